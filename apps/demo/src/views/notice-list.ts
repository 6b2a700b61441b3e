// Messages for the person at the page: errors stay until closed (nothing fails silently),
// information fades by itself.
import { h } from "../element-builder.js";

export type NoticeKind = "error" | "warning" | "info";

export interface Notice {
  id: number;
  kind: NoticeKind;
  text: string;
}

export function noticeList(
  notices: readonly Notice[],
  onClose: (id: number) => void,
): HTMLElement[] {
  return notices.map((notice) =>
    h(
      "div",
      {
        class: `notice notice-${notice.kind}`,
        testid: "notice",
        attrs: { "data-kind": notice.kind, role: notice.kind === "error" ? "alert" : "status" },
      },
      h(
        "span",
        { class: "notice-icon", attrs: { "aria-hidden": "true" } },
        notice.kind === "error" ? "!" : "i",
      ),
      h("p", { class: "notice-text" }, notice.text),
      h(
        "button",
        {
          class: "notice-close",
          attrs: { type: "button", "aria-label": "Close" },
          on: { click: () => onClose(notice.id) },
        },
        "×",
      ),
    ),
  );
}
