// Sign-in: an admin API key is sent once to the server, which answers with a session cookie
// the page never sees. The key stays in the form field only until it is sent.
import { ApiError, api, type Session } from "../api-client.js";
import { h, replaceChildren } from "../element-builder.js";

export function signInView(
  notice: string | undefined,
  onSignedIn: (session: Session) => void,
): HTMLElement {
  const key = h("input", {
    class: "input",
    testid: "api-key",
    attrs: {
      id: "api-key",
      type: "password",
      name: "key",
      required: true,
      autocomplete: "off",
      spellcheck: "false",
      placeholder: "bk_…",
      "aria-describedby": "api-key-hint",
    },
  });
  const actions = h("input", {
    testid: "allow-actions",
    attrs: { id: "allow-actions", type: "checkbox", name: "actions" },
  });
  const message = h("p", {
    class: "form-message",
    testid: "sign-in-message",
    attrs: { role: "alert" },
  });
  if (notice) replaceChildren(message, notice);
  const submit = h(
    "button",
    { class: "button button-primary button-wide", attrs: { type: "submit" } },
    "Sign in",
  );
  const form = h(
    "form",
    {
      class: "card sign-in",
      on: {
        submit: async (event) => {
          event.preventDefault();
          submit.disabled = true;
          replaceChildren(message);
          try {
            const session = await api<Session>("/console/session", {
              method: "POST",
              body: { key: key.value.trim(), actions: actions.checked },
              quiet401: true,
            });
            key.value = "";
            onSignedIn(session);
          } catch (error) {
            replaceChildren(
              message,
              error instanceof ApiError ? error.message : "The server could not be reached.",
            );
            message.classList.add("form-message-error");
          } finally {
            submit.disabled = false;
          }
        },
      },
    },
    h(
      "div",
      { class: "sign-in-brand" },
      h("span", { class: "brand-mark", attrs: { "aria-hidden": "true" } }, "◉"),
      h("span", null, "Beckon ", h("span", { class: "brand-sub" }, "console")),
    ),
    h("h1", { class: "sign-in-title" }, "Sign in"),
    h("p", { class: "lead" }, "Every call, every device, every push — live."),
    h(
      "div",
      { class: "field" },
      h("label", { attrs: { for: "api-key" } }, "Admin API key"),
      key,
      h(
        "p",
        { class: "hint", attrs: { id: "api-key-hint" } },
        "Make one with ",
        h("code", null, "beckon apikey create ops --scopes admin"),
        ". It is exchanged for a 30-minute session and kept nowhere in this browser.",
      ),
    ),
    h(
      "label",
      { class: "check", attrs: { for: "allow-actions" } },
      actions,
      h("span", null, "Allow actions (cancel or end calls, replay webhooks)"),
    ),
    message,
    submit,
  );
  return h("main", { class: "sign-in-page", attrs: { id: "main" } }, form);
}
