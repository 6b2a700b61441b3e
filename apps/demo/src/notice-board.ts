// The notices at the top of the page: the same message again replaces the old one, at most a
// few stay, information fades sooner than errors, and the reader can close any of them.
import { maxNotices } from "./demo-settings.js";
import { h, replaceChildren } from "./element-builder.js";
import { type Notice, type NoticeKind, noticeList } from "./views/notice-list.js";

export class NoticeBoard {
  readonly element = h("div", {
    class: "notices",
    testid: "notices",
    attrs: { "aria-live": "polite" },
  });
  private notices: Notice[] = [];
  private nextID = 1;

  constructor(private readonly infoMs: number) {}

  notify(kind: NoticeKind, text: string): void {
    const id = this.nextID++;
    const others = this.notices.filter((notice) => notice.text !== text);
    this.notices = [...others.slice(-(maxNotices - 1)), { id, kind, text }];
    setTimeout(() => this.close(id), kind === "info" ? this.infoMs : 2 * this.infoMs);
    this.render();
  }

  render(): void {
    replaceChildren(
      this.element,
      noticeList(this.notices, (id) => this.close(id)),
    );
  }

  private close(id: number): void {
    this.notices = this.notices.filter((notice) => notice.id !== id);
    this.render();
  }
}
