// The console's shell: who is signed in, the top bar (navigation, Find, live state, sign-out)
// and the page the hash route names. A page is a function that fills a container and returns
// its cleanup (unsubscribing from the live feed).
import { ApiError, api, type Session, whenSignedOut } from "./api-client.js";
import { h, replaceChildren } from "./element-builder.js";
import { type FeedState, LiveFeed } from "./live-feed.js";
import type { Page, PageContext } from "./page.js";
import { callPage } from "./views/call-page.js";
import { integrationsPage } from "./views/integrations-page.js";
import { nowPage } from "./views/now-page.js";
import { signInView } from "./views/sign-in-view.js";
import { userPage } from "./views/user-page.js";

interface Route {
  page: Page;
  title: string;
  nav: "now" | "integrations" | null;
}

function route(hash: string): Route {
  const path = hash.replace(/^#/, "") || "/";
  const [, first, rest] = /^\/([^/]*)\/?(.*)$/.exec(path) ?? [];
  const param = decodeURIComponent(rest ?? "");
  if (first === "calls" && param) {
    return { page: (c, x) => callPage(c, x, param), title: `Call ${param}`, nav: null };
  }
  if (first === "users" && param) {
    return { page: (c, x) => userPage(c, x, param), title: `User ${param}`, nav: null };
  }
  if (first === "integrations")
    return { page: integrationsPage, title: "Integrations", nav: "integrations" };
  return { page: nowPage, title: "Now", nav: "now" };
}

export class ConsoleApp {
  private session: Session | null = null;
  private readonly feed = new LiveFeed();
  private cleanup: (() => void) | undefined;
  private readonly main = h("main", { class: "main", attrs: { id: "main", tabindex: "-1" } });
  private readonly bar = h("header", { class: "top-bar" });

  constructor(private readonly root: HTMLElement) {
    whenSignedOut(() => this.showSignIn("Your session ended. Sign in again."));
    window.addEventListener("hashchange", () => this.render());
  }

  async start(): Promise<void> {
    try {
      this.session = await api<Session>("/console/session", { quiet401: true });
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 401) throw error;
    }
    if (this.session) this.render();
    else this.showSignIn();
  }

  private showSignIn(notice?: string): void {
    this.cleanup?.();
    this.cleanup = undefined;
    this.feed.stop();
    this.session = null;
    document.title = "Sign in · Beckon console";
    replaceChildren(
      this.root,
      signInView(notice, (session) => {
        this.session = session;
        this.render();
      }),
    );
  }

  private render(): void {
    const session = this.session;
    if (!session) return;
    this.cleanup?.();
    this.cleanup = undefined;
    this.feed.start();
    const current = route(location.hash);
    document.title = `${current.title} · Beckon console`;
    if (!this.root.contains(this.main)) {
      replaceChildren(
        this.root,
        h(
          "a",
          { class: "skip-link", attrs: { href: "#main" }, on: { click: (e) => this.skip(e) } },
          "Skip to content",
        ),
        this.bar,
        this.main,
      );
    }
    replaceChildren(this.bar, ...this.topBar(session, current.nav));
    this.main.replaceChildren();
    const context: PageContext = { session, feed: this.feed, go: (hash) => this.go(hash) };
    this.cleanup = current.page(this.main, context);
  }

  private skip(event: Event): void {
    event.preventDefault();
    this.main.focus();
  }

  private go(hash: string): void {
    if (location.hash === hash) this.render();
    else location.hash = hash;
  }

  private topBar(session: Session, active: Route["nav"]): HTMLElement[] {
    const link = (hash: string, label: string, name: Route["nav"]) =>
      h(
        "a",
        {
          class: `nav-link${active === name ? " nav-link-active" : ""}`,
          attrs: { href: hash, ...(active === name ? { "aria-current": "page" } : {}) },
        },
        label,
      );
    const live = h("span", { class: "live", testid: "live-state", attrs: { role: "status" } });
    const showState = (state: FeedState) => {
      live.className = `live live-${state}`;
      live.dataset.state = state;
      replaceChildren(
        live,
        h("span", { class: "live-dot", attrs: { "aria-hidden": "true" } }),
        state === "live" ? "Live" : state === "connecting" ? "Connecting" : "Reconnecting",
      );
    };
    const off = this.feed.onState(showState);
    const previous = this.cleanup;
    this.cleanup = () => {
      off();
      previous?.();
    };
    const input = h("input", {
      class: "input find-input",
      testid: "find-input",
      attrs: {
        type: "search",
        name: "q",
        placeholder: "User ID or call ID",
        "aria-label": "Find a user or a call by ID",
        autocomplete: "off",
        spellcheck: "false",
      },
    });
    const find = h(
      "form",
      {
        class: "find",
        attrs: { role: "search" },
        on: {
          submit: (event) => {
            event.preventDefault();
            void this.find(input.value.trim(), input);
          },
        },
      },
      input,
      h("button", { class: "button button-small", attrs: { type: "submit" } }, "Find"),
    );
    return [
      h(
        "a",
        { class: "brand", attrs: { href: "#/" } },
        h("span", { class: "brand-mark", attrs: { "aria-hidden": "true" } }, "◉"),
        "Beckon",
        h("span", { class: "brand-sub" }, "console"),
      ),
      h(
        "nav",
        { class: "nav", attrs: { "aria-label": "Pages" } },
        link("#/", "Now", "now"),
        link("#/integrations", "Integrations", "integrations"),
      ),
      find,
      live,
      h(
        "span",
        { class: "who" },
        h(
          "span",
          {
            class: `mode-badge ${session.actions ? "mode-badge-write" : ""}`,
            testid: "session-mode",
            attrs: {
              title: session.actions
                ? "Actions allowed"
                : "Read-only: sign in with actions allowed to act",
            },
          },
          session.actions ? "Actions on" : "Read-only",
        ),
        h("span", { class: "who-name", testid: "key-name" }, session.keyName),
        h(
          "button",
          {
            class: "button button-quiet button-small",
            testid: "sign-out",
            attrs: { type: "button" },
            on: { click: () => void this.signOut() },
          },
          "Sign out",
        ),
      ),
    ];
  }

  /** A call ID opens the call, else the user of that ID. */
  private async find(query: string, input: HTMLInputElement): Promise<void> {
    if (!query) return;
    input.setCustomValidity("");
    try {
      await api(`/calls/${encodeURIComponent(query)}`);
      this.go(`#/calls/${encodeURIComponent(query)}`);
      return;
    } catch (error) {
      if (!(error instanceof ApiError) || (error.status !== 404 && error.status !== 400))
        throw error;
    }
    this.go(`#/users/${encodeURIComponent(query)}`);
  }

  private async signOut(): Promise<void> {
    await api("/console/session", { method: "DELETE" }).catch(() => undefined);
    this.showSignIn("Signed out.");
  }
}
