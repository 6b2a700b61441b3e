// The sign-in screen: a user name, and a token field that is optional in development mode (the
// server mints tokens) and required in production mode (the app's backend mints them).
import type { TokenMode } from "../dev-tokens.js";
import { h, replaceChildren } from "../element-builder.js";
import { avatar } from "./avatar.js";

export interface LoginView {
  element: HTMLElement;
  setTokenMode(mode: TokenMode | "unknown"): void;
  setBusy(busy: boolean): void;
  setRecent(userIDs: readonly string[]): void;
  prefill(userID: string): void;
}

export function createLoginView(
  onSubmit: (userID: string, token: string | null) => void,
): LoginView {
  const user = h("input", {
    class: "input input-large",
    testid: "login-user",
    attrs: {
      id: "login-user",
      name: "username",
      autocomplete: "username",
      autocapitalize: "none",
      spellcheck: "false",
      maxlength: 32,
      placeholder: "e.g. alice",
      required: true,
    },
  });
  const token = h("textarea", {
    class: "input token-input",
    testid: "login-token",
    attrs: { id: "login-token", rows: 3, spellcheck: "false", placeholder: "eyJhbGciOi…" },
  });
  const ownToken = h("input", {
    testid: "login-own-token",
    attrs: { type: "checkbox" },
    on: { change: () => sync() },
  });
  const ownTokenToggle = h("label", { class: "check" }, ownToken, " Use my own token");
  const tokenHint = h("p", { class: "hint" });
  const tokenField = h(
    "div",
    { class: "field token-field" },
    h("label", { attrs: { for: "login-token" } }, "Token"),
    token,
    tokenHint,
  );
  const submit = h(
    "button",
    {
      class: "button button-primary button-wide",
      testid: "login-submit",
      attrs: { type: "submit" },
    },
    "Sign in",
  );
  const recent = h("div", { class: "recent-logins" });
  let mode: TokenMode | "unknown" = "unknown";

  const sync = () => {
    const needsToken = mode === "production" || ownToken.checked;
    tokenField.hidden = !needsToken;
    ownTokenToggle.hidden = mode === "production";
    token.required = needsToken;
    tokenHint.textContent =
      mode === "production"
        ? "This server does not hand out development tokens. Paste a token your backend signed " +
          "for this user (a JWT with sub = user ID); see docs/tokens.md."
        : "A JWT signed with the server's secret, sub = user ID. On the server machine: " +
          "npm run beckon -- token <userID>.";
  };
  sync();

  const form = h(
    "form",
    {
      class: "login-form",
      on: {
        submit: (event) => {
          event.preventDefault();
          const pasted = token.value.trim();
          onSubmit(user.value.trim(), tokenField.hidden || pasted === "" ? null : pasted);
        },
      },
    },
    h(
      "div",
      { class: "field" },
      h("label", { attrs: { for: "login-user" } }, "Your user name"),
      user,
      h("p", { class: "hint" }, "1–32 letters, digits or !#$%&()+-:;<=.>?@[]^_{}|~"),
    ),
    ownTokenToggle,
    tokenField,
    submit,
  );

  const element = h(
    "section",
    { class: "card login", testid: "login" },
    h("h1", null, "Ring someone"),
    h(
      "p",
      { class: "lead" },
      "Sign in with any name here, with another name in a second tab (or on your phone), and " +
        "call one from the other.",
    ),
    form,
    recent,
  );

  return {
    element,
    setTokenMode(next) {
      mode = next;
      sync();
    },
    setBusy(busy) {
      submit.disabled = busy;
      submit.textContent = busy ? "Signing in…" : "Sign in";
    },
    setRecent(userIDs) {
      replaceChildren(
        recent,
        userIDs.length > 0
          ? [
              h("p", { class: "hint" }, "Recent names on this browser:"),
              h(
                "div",
                { class: "chips" },
                userIDs.slice(0, 8).map((userID) =>
                  h(
                    "button",
                    {
                      class: "chip chip-button",
                      attrs: { type: "button" },
                      on: {
                        click: () => {
                          user.value = userID;
                          user.focus();
                        },
                      },
                    },
                    avatar(userID),
                    userID,
                  ),
                ),
              ),
            ]
          : null,
      );
    },
    prefill(userID) {
      if (user.value === "") user.value = userID;
    },
  };
}
