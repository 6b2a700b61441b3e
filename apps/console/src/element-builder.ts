// A tiny hyperscript helper (the demo's): the console builds its DOM with plain functions, and
// text always goes in as text nodes (never HTML), so IDs from the server cannot inject markup.

type Child = Node | string | number | null | undefined | false;
type Listener = (event: Event) => void;

export interface ElementProps {
  class?: string;
  testid?: string;
  /** Extra attributes; `null`/`undefined` (and `false`, but for aria-/data-) leave it out. */
  attrs?: Record<string, string | number | boolean | null | undefined>;
  /** Event listeners by event name (`click`, `submit`, …). */
  on?: Record<string, Listener>;
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: ElementProps | null,
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (props?.class) element.className = props.class;
  if (props?.testid) element.dataset.testid = props.testid;
  for (const [name, value] of Object.entries(props?.attrs ?? {})) {
    if (value === null || value === undefined) continue;
    // aria-* and data-* take "true"/"false"; other booleans are present or absent (disabled).
    if (/^(aria|data)-/.test(name)) element.setAttribute(name, String(value));
    else if (value !== false) element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const [name, listener] of Object.entries(props?.on ?? {})) {
    element.addEventListener(name, listener);
  }
  append(element, children);
  return element;
}

function append(parent: Node, children: (Child | Child[])[]): void {
  for (const child of children) {
    if (Array.isArray(child)) append(parent, child);
    else if (child instanceof Node) parent.appendChild(child);
    else if (child !== null && child !== undefined && child !== false) {
      parent.appendChild(document.createTextNode(String(child)));
    }
  }
}

/** Replaces everything inside `parent` with `children`. */
export function replaceChildren(parent: Element, ...children: (Child | Child[])[]): void {
  parent.replaceChildren();
  append(parent, children);
}
