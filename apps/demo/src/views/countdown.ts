// Countdowns to a server deadline (epoch ms). Each element carries its deadline; one ticker
// updates them all, so a countdown is right after a reload or a late render too.
import { h } from "../element-builder.js";

export function secondsLeft(deadline: number, now = Date.now()): number {
  return Math.max(0, Math.ceil((deadline - now) / 1000));
}

/** A live countdown, or a fixed 0 once the invitation has timed out (`deadline` null). */
export function countdown(testid: string, deadline: number | null, className = ""): HTMLElement {
  const element = h("span", {
    class: `countdown ${className}`.trim(),
    testid,
    attrs: { "data-deadline": deadline ?? undefined, "aria-label": "seconds left" },
  });
  element.textContent = String(deadline === null ? 0 : secondsLeft(deadline));
  return element;
}

/** Starts the ticker that refreshes every `[data-deadline]` element in `root`. */
export function startCountdownTicker(root: ParentNode): () => void {
  const tick = () => {
    const now = Date.now();
    for (const element of root.querySelectorAll<HTMLElement>("[data-deadline]")) {
      const text = String(secondsLeft(Number(element.dataset.deadline), now));
      if (element.textContent !== text) element.textContent = text;
    }
  };
  const timer = setInterval(tick, 200);
  return () => clearInterval(timer);
}
