// A round initial in a colour derived from the user ID, so people are told apart at a glance.
import { h } from "../element-builder.js";

function hue(userID: string): number {
  let hash = 0;
  for (const char of userID) hash = (hash * 31 + (char.codePointAt(0) ?? 0)) % 360;
  return hash;
}

export function avatar(userID: string, size: "small" | "large" = "small"): HTMLElement {
  const initial = (userID.match(/[A-Za-z0-9]/)?.[0] ?? userID[0] ?? "?").toUpperCase();
  const element = h(
    "span",
    { class: `avatar avatar-${size}`, attrs: { "aria-hidden": "true" } },
    initial,
  );
  element.style.setProperty("--avatar-hue", String(hue(userID)));
  return element;
}
