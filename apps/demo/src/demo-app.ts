// The demo page: one BeckonClient per sign-in (the real @beckon/sdk, browser entry), the call
// book its events feed, and what the user does to calls. The history, notices and event log are
// panels of their own; every SDK failure ends up as a readable notice.
import {
  BeckonClient,
  type BeckonEventMap,
  type BeckonEventName,
  type CallInfo,
  CallUserState,
  ConnectionState,
  ErrorCode,
} from "@beckon/sdk";
import { CallBook } from "./call-book.js";
import { CallHistory } from "./call-history.js";
import { callExtendedData, parseUserList } from "./call-labels.js";
import { CallScreen } from "./call-screen.js";
import {
  disconnectReasons,
  gone,
  infoNoticeMs,
  pageSizeFromURL,
  pendingAnswerWaitMs,
  pushConfig,
  serverURL,
} from "./demo-settings.js";
import { fetchDevToken, probeTokenMode, type TokenMode } from "./dev-tokens.js";
import { h, replaceChildren } from "./element-builder.js";
import { describeError, describeErrorUsers } from "./error-text.js";
import { EventLogPanel } from "./event-log-panel.js";
import { NoticeBoard } from "./notice-board.js";
import { OnlineUsers } from "./online-users.js";
import { RecentUsers } from "./recent-users.js";
import { Ringer } from "./ringer.js";
import { savedSession, saveSession, tabDeviceID } from "./tab-session.js";
import type { CallActions } from "./views/call-actions.js";
import { startCountdownTicker } from "./views/countdown.js";
import { createDialerView, type DialerValues } from "./views/dialer-view.js";
import { createLoginView } from "./views/login-view.js";
import type { NoticeKind } from "./views/notice-list.js";
import { peopleView } from "./views/people-view.js";
import { type PushPanelState, pushPanel } from "./views/push-panel.js";
import { topBarContent } from "./views/top-bar.js";
import {
  type AnswerRequest,
  answerFromURL,
  enableWebPush,
  listenForAnswers,
  webPushUnsupported,
} from "./web-push.js";

interface Session {
  userID: string;
  client: BeckonClient;
  book: CallBook;
  /** A pasted token; null when it came from the development endpoint. */
  pastedToken: string | null;
  /** The token in use (renewed ones too): the server API takes it for the user's own routes. */
  token: string;
}

/** Web Push is turned on per signed-in user: each sign-in starts here. */
function initialPushState(): PushPanelState {
  const why = webPushUnsupported();
  return why ? { kind: "unsupported", why } : { kind: "off" };
}

export class DemoApp {
  private tokenMode: TokenMode | "unknown" = "unknown";
  private session: Session | null = null;
  private signingIn = false;
  private connection = ConnectionState.Disconnected;
  private readonly busy = new Set<string>();
  private readonly drafts = new Map<string, string>();
  /** Calls this device created, to tell them from calls the user started on another device. */
  private readonly ownCallIDs = new Set<string>();
  private invitesInFlight = 0;
  /** An Accept or Decline from a call's notification, waiting for the user to sign in. */
  private pendingAnswer: AnswerRequest | null = null;
  private pendingAnswerTimer: ReturnType<typeof setTimeout> | undefined;
  private pushState = initialPushState();
  private readonly pushSlot = h("div", { class: "push-slot" });

  private readonly recent = new RecentUsers(() => this.renderPeople());
  private readonly online = new OnlineUsers(() => this.renderPeople());

  // The page's fixed regions; each is re-rendered on its own.
  private readonly topBar = h("header", { class: "top-bar", testid: "top-bar" });
  private readonly banner = h("div", { class: "mode-banner", testid: "token-mode" });
  private readonly notices = new NoticeBoard(infoNoticeMs);
  private readonly eventLog = new EventLogPanel();
  private readonly ringer = new Ringer();
  private readonly login = createLoginView((userID, token) => {
    // The sign-in click is what allows the ring tone and the notification prompt.
    this.ringer.unlock();
    void this.signIn(userID, token);
  });
  private readonly dialer = createDialerView((values) => void this.invite(values));
  private readonly screen = new CallScreen({
    root: () => this.root,
    ringer: this.ringer,
    session: () => this.session,
    actions: () => this.callActions,
  });
  private readonly history = new CallHistory(
    {
      current: () => this.session,
      notify: (kind, text) => this.notify(kind, text),
      remember: (userIDs) => this.recent.remember(userIDs),
      rowActions: {
        join: (call) => void this.join(call),
        isJoining: (callID) => this.busy.has(`join:${callID}`),
        rejoin: (call) => void this.join(call),
        leave: (call) =>
          void this.run("leave", call.callID, "Could not leave the call", async ({ client }) => {
            await client.callQuit(call.callID, {});
            this.notify("info", "You left the call.");
          }),
        cancel: (call) =>
          void this.run(
            "cancel",
            call.callID,
            "Could not cancel the call",
            async ({ client, userID }) => {
              await client.callCancel([], call.callID, {
                pushConfig: pushConfig(`Missed call from ${userID}`),
              });
              this.notify("info", "Call cancelled.");
            },
          ),
        isShownHere: (callID) => {
          const book = this.session?.book;
          const shown = book?.get(callID);
          return shown !== undefined && book?.phase(shown) !== "over";
        },
        isBusy: (action, callID) => this.busy.has(`${action}:${callID}`),
      },
    },
    pageSizeFromURL(),
  );
  private readonly workspace = h(
    "div",
    { class: "workspace", testid: "workspace", attrs: { hidden: true } },
    this.screen.callsArea,
    h("div", { class: "dialer-slot" }, this.dialer.element, this.pushSlot),
    this.history.element,
    this.eventLog.element,
  );

  private readonly callActions: CallActions = {
    accept: (callID) => void this.answer(callID, CallUserState.Accepted),
    reject: (callID) => void this.answer(callID, CallUserState.Rejected),
    cancel: (callID) =>
      void this.run("cancel", callID, "Could not cancel the call", async ({ client, book }) => {
        await client.callCancel([], callID, {
          pushConfig: pushConfig(`Missed call from ${this.session?.userID ?? ""}`),
        });
        book.cancelledHere(callID);
      }),
    quit: (callID) =>
      void this.run("quit", callID, "Could not leave the call", async ({ client, book }) => {
        await client.callQuit(callID, { pushConfig: pushConfig("The call is over") });
        book.quitHere(callID);
      }),
    end: (callID) =>
      void this.run("end", callID, "Could not end the call", async ({ client, book, userID }) => {
        const result = await client.callEnd(callID, {
          pushConfig: pushConfig("The call is over"),
        });
        const call = book.get(callID);
        if (call) {
          book.ended({
            callID,
            mode: call.mode,
            caller: call.caller,
            operatedUserID: userID,
            extendedData: "",
            endTime: result.endTime,
          });
        }
      }),
    hangUp: (callID) => {
      this.session?.book.hungUpHere(callID);
      this.notify(
        "info",
        "Hung up on this device only: a general call has nothing left to end on the server, " +
          "so the other side is not told. Your app's media connection would close here.",
      );
      this.afterCallChange();
    },
    dismiss: (callID) => {
      this.session?.book.remove(callID);
      this.drafts.delete(callID);
      this.renderCalls();
    },
    addPeople: (callID, text) => void this.addPeople(callID, text),
    setDraft: (callID, text) => this.drafts.set(callID, text),
    draft: (callID) => this.drafts.get(callID) ?? "",
    isBusy: (action, callID) => this.busy.has(`${action}:${callID}`),
  };

  constructor(private readonly root: HTMLElement) {
    this.dialer.element.addEventListener("selection-change", () => this.renderPeople());
    replaceChildren(
      root,
      this.topBar,
      this.banner,
      this.notices.element,
      h(
        "main",
        { class: "main" },
        h("div", { class: "login-slot" }, this.login.element),
        this.workspace,
      ),
      h(
        "footer",
        { class: "footer" },
        "Beckon demo: the real @beckon/sdk against this server. Guides in the repository's docs/: ",
        "quick-start.md, tokens.md, modes.md.",
      ),
      this.screen.incomingLayer,
    );
    startCountdownTicker(root);
    window.addEventListener("error", (event) =>
      this.notify("error", `Unexpected error in the page: ${event.message}`),
    );
    window.addEventListener("unhandledrejection", (event) =>
      this.notify("error", describeError("Unexpected failure", event.reason)),
    );
    listenForAnswers((request) => this.answerWhenSignedIn(request));
  }

  async start(): Promise<void> {
    this.renderAll();
    try {
      this.tokenMode = await probeTokenMode();
    } catch (error) {
      this.notify("error", describeError("The server is not answering", error));
    }
    this.login.setTokenMode(this.tokenMode);
    this.renderBanner();
    const fromURL = answerFromURL();
    if (fromURL) this.answerWhenSignedIn(fromURL);
    // A reload of a signed-in tab signs back in as the same user and device.
    const saved = savedSession();
    if (saved && (saved.token !== null || this.tokenMode === "development")) {
      await this.signIn(saved.userID, saved.token);
    }
  }

  // ── Session ───────────────────────────────────────────────────────────────────────────────

  private async signIn(userID: string, pastedToken: string | null): Promise<void> {
    if (this.signingIn || this.session) return;
    if (userID === "") {
      this.notify("error", "Type a user name first.");
      return;
    }
    this.signingIn = true;
    this.login.setBusy(true);
    let client: BeckonClient | null = null;
    try {
      const token = pastedToken ?? (await this.developmentToken(userID));
      client = new BeckonClient({ url: serverURL(), deviceID: tabDeviceID() });
      // The session exists before login resolves: pending invitations arrive with the login.
      const session: Session = {
        userID,
        client,
        book: new CallBook(userID),
        pastedToken,
        token,
      };
      this.session = session;
      this.attach(session);
      await client.login(userID, { token });
      saveSession({ userID, token: pastedToken });
      this.recent.remember([userID]);
      if (this.tokenMode === "development") this.online.start();
      this.history.reset();
      void this.history.load(true);
      this.signingIn = false;
      this.answerPending();
    } catch (error) {
      this.session = null;
      void client?.destroy();
      saveSession(null);
      this.connection = ConnectionState.Disconnected;
      this.notify("error", describeError(`Could not sign in as "${userID}"`, error));
    } finally {
      this.signingIn = false;
      this.login.setBusy(false);
      this.renderAll();
    }
  }

  private async developmentToken(userID: string): Promise<string> {
    if (this.tokenMode === "production") {
      throw new Error("this server does not hand out development tokens: paste a token");
    }
    return fetchDevToken(userID);
  }

  private async signOut(): Promise<void> {
    const session = this.session;
    if (!session) return;
    this.endSession();
    await session.client.logout();
    await session.client.destroy();
  }

  /** Back to the sign-in screen; the client's late events are ignored from here on. */
  private endSession(): void {
    const session = this.session;
    this.session = null;
    this.connection = ConnectionState.Disconnected;
    this.busy.clear();
    this.drafts.clear();
    this.ownCallIDs.clear();
    this.pushState = initialPushState();
    saveSession(null);
    this.online.stop();
    if (session) this.login.prefill(session.userID);
    this.renderAll();
  }

  private attach(session: Session): void {
    const { client, book } = session;
    const on = <K extends BeckonEventName>(name: K, handle: (data: BeckonEventMap[K]) => void) => {
      client.on(name, (_client, data) => {
        if (this.session !== session) return;
        this.eventLog.log(name, data);
        handle(data);
      });
    };
    on("connectionStateChanged", (data) => {
      this.connection = data.state;
      this.renderTopBar();
      // Disconnected without our own sign-out: the server or the network ended the session.
      if (data.state === ConnectionState.Disconnected && !this.signingIn) {
        const why = disconnectReasons[data.event] ?? "You were signed out.";
        this.notify("error", data.extendedData ? `${why} (${data.extendedData})` : why);
        this.endSession();
      }
    });
    on("callInvitationCreated", (data) => {
      if (this.invitesInFlight === 0 && !this.ownCallIDs.has(data.callID)) {
        this.notify("info", `You started a call on another device (${data.callID}).`);
        return;
      }
      book.created(data);
      this.recent.remember(data.callUserList.map((user) => user.userID));
      this.afterCallChange();
    });
    on("callInvitationReceived", (data) => {
      book.received(data);
      this.recent.remember([data.caller, data.inviter, ...data.callUserList.map((u) => u.userID)]);
      this.afterCallChange();
    });
    on("callInvitationCancelled", (data) => {
      book.cancelled(data);
      this.afterCallChange();
    });
    on("callInvitationTimeout", (data) => {
      book.timedOut(data);
      this.afterCallChange();
    });
    on("callInvitationEnded", (data) => {
      book.ended(data);
      this.afterCallChange();
    });
    on("callUserStateChanged", (data) => {
      book.stateChanged(data);
      this.recent.remember(data.callUserList.map((user) => user.userID));
      this.afterCallChange();
    });
    on("tokenWillExpire", (data) => void this.renewToken(session, data.second));
    on("error", (data) => this.notify("error", describeError("The server refused a frame", data)));
  }

  private async renewToken(session: Session, secondsLeft: number): Promise<void> {
    if (session.pastedToken !== null) {
      this.notify(
        "warning",
        `Your token expires in ${secondsLeft} s. Sign out and in again with a fresh one to stay reachable.`,
      );
      return;
    }
    try {
      const token = await fetchDevToken(session.userID);
      await session.client.renewToken(token);
      session.token = token;
    } catch (error) {
      this.notify("error", describeError("Could not renew the token", error));
    }
  }

  // ── Calls ─────────────────────────────────────────────────────────────────────────────────

  private async invite(values: DialerValues): Promise<void> {
    const session = this.session;
    if (!session) return;
    if (values.invitees.length === 0) {
      this.notify("error", "Type at least one user ID to call, or pick someone from the list.");
      return;
    }
    if (!Number.isInteger(values.timeout) || values.timeout < 1 || values.timeout > 600) {
      this.notify("error", "The ring time must be a whole number of seconds from 1 to 600.");
      return;
    }
    const { client, book, userID } = session;
    this.invitesInFlight++;
    this.dialer.setBusy(true);
    try {
      const extendedData = callExtendedData(values.media);
      const result = await client.callInvite(values.invitees, {
        timeout: values.timeout,
        mode: values.mode,
        extendedData,
        enableNotReceivedCheck: values.notReceivedCheck,
        // Invitees with no tab open get it as a push (their browser's service worker shows it).
        pushConfig: pushConfig(
          `${userID} is calling`,
          values.media === "video" ? "Video call" : "Voice call",
        ),
      });
      this.ownCallIDs.add(result.callID);
      const refused = new Set(result.errorUserList.map((user) => user.userID));
      if (!book.get(result.callID) && this.session === session) {
        // Normally callInvitationCreated came first; without it the caller still sees the call.
        book.created({
          callID: result.callID,
          mode: values.mode,
          caller: userID,
          extendedData,
          timeout: result.timeout,
          createTime: Date.now(),
          callUserList: [
            { userID, state: CallUserState.Accepted, extendedData: "" },
            ...values.invitees
              .filter((invitee) => !refused.has(invitee))
              .map((invitee) => ({
                userID: invitee,
                state: CallUserState.Inviting,
                extendedData: "",
              })),
          ],
        });
        this.afterCallChange();
      }
      if (result.errorUserList.length > 0) {
        this.notify("warning", `Not invited: ${describeErrorUsers(result.errorUserList)}`);
      }
    } catch (error) {
      this.notify("error", describeError("Could not place the call", error));
      // Busy with a call still ringing from another tab or device: the history shows it, with
      // Cancel, once reloaded.
      if ((error as { code?: unknown }).code === ErrorCode.CallCommonError) {
        void this.history.load(true);
      }
    } finally {
      this.invitesInFlight--;
      this.dialer.setBusy(false);
    }
  }

  private answer(callID: string, state: CallUserState.Accepted | CallUserState.Rejected) {
    const accepting = state === CallUserState.Accepted;
    return this.run(
      accepting ? "accept" : "reject",
      callID,
      accepting ? "Could not accept the call" : "Could not decline the call",
      async ({ client, book }) => {
        book.answering(callID, true);
        try {
          if (accepting) await client.callAccept(callID, {});
          else await client.callReject(callID, {});
        } catch (error) {
          book.answering(callID, false);
          throw error;
        }
        book.answered(callID, state);
      },
    );
  }

  /** An answer from a call's notification: now when signed in, else right after signing in. */
  private answerWhenSignedIn(request: AnswerRequest): void {
    if (!request.answer) return;
    this.pendingAnswer = request;
    if (this.session && !this.signingIn) {
      this.answerPending();
      return;
    }
    const verb = request.answer === "accept" ? "accept" : "decline";
    this.notify(
      "info",
      `Sign in to ${verb} the call${request.caller ? ` from ${request.caller}` : ""}.`,
    );
  }

  private answerPending(): void {
    const request = this.pendingAnswer;
    const session = this.session;
    if (!request || !session || this.signingIn) return;
    const call = session.book.get(request.callID);
    if (!call) {
      // The invitations still ringing for this user arrive right after signing in.
      this.pendingAnswerTimer ??= setTimeout(() => {
        this.pendingAnswerTimer = undefined;
        if (this.pendingAnswer !== request || this.session !== session) return;
        this.pendingAnswer = null;
        this.notify("warning", `That call no longer rings for ${session.userID}: ${gone}`);
      }, pendingAnswerWaitMs);
      return;
    }
    this.pendingAnswer = null;
    clearTimeout(this.pendingAnswerTimer);
    this.pendingAnswerTimer = undefined;
    if (session.book.phase(call) !== "ringing") {
      this.notify("warning", `That call no longer rings for ${session.userID}: ${gone}`);
      return;
    }
    void this.answer(
      request.callID,
      request.answer === "accept" ? CallUserState.Accepted : CallUserState.Rejected,
    );
  }

  // ── Ringing with the tab closed ──────────────────────────────────────────────────────────

  private async enablePush(): Promise<void> {
    const session = this.session;
    if (!session || this.pushState.kind === "working") return;
    this.pushState = { kind: "working" };
    this.renderPush();
    let state: PushPanelState;
    try {
      await enableWebPush(session.token, tabDeviceID());
      state = { kind: "on" };
    } catch (error) {
      state = { kind: "failed", why: error instanceof Error ? error.message : String(error) };
    }
    // Signed out meanwhile: the panel already belongs to the next sign-in.
    if (this.session !== session) return;
    this.pushState = state;
    this.renderPush();
  }

  private renderPush(): void {
    replaceChildren(
      this.pushSlot,
      pushPanel(this.pushState, () => void this.enablePush()),
    );
  }

  private addPeople(callID: string, text: string) {
    const invitees = parseUserList(text);
    if (invitees.length === 0) {
      this.notify("error", "Type the user IDs to add to the call.");
      return;
    }
    return this.run("addPeople", callID, "Could not add people", async ({ client, book }) => {
      const result = await client.callingInvite(invitees, callID, {});
      const refused = new Set(result.errorUserList.map((user) => user.userID));
      book.invitedHere(
        callID,
        invitees.filter((userID) => !refused.has(userID)),
      );
      this.drafts.delete(callID);
      this.recent.remember(invitees);
      if (result.errorUserList.length > 0) {
        this.notify("warning", `Not added: ${describeErrorUsers(result.errorUserList)}`);
      }
    });
  }

  private join(call: CallInfo) {
    return this.run("join", call.callID, "Could not join the call", async ({ client, book }) => {
      let members = call.callUserList;
      try {
        members = (await client.callJoin(call.callID, {})).callUserList;
      } catch (error) {
        // This tab already is the user's device in the call (a reload keeps the device ID):
        // nothing to tell the server, only the card to bring back.
        if ((error as { code?: unknown }).code !== ErrorCode.CallUserAlreadyInTheCall) throw error;
      }
      book.joined(
        call.callID,
        {
          caller: call.caller,
          extendedData: call.extendedData,
          timeout: 0,
          createTime: call.createTime,
        },
        members,
      );
    });
  }

  /** Runs one SDK request for a call: its button is busy meanwhile, a failure is a notice. */
  private async run(
    action: string,
    callID: string,
    failure: string,
    work: (session: Session) => Promise<void>,
  ): Promise<void> {
    const session = this.session;
    const key = `${action}:${callID}`;
    if (!session || this.busy.has(key)) return;
    this.busy.add(key);
    this.renderCalls();
    try {
      await work(session);
    } catch (error) {
      if (this.session === session) this.notify("error", describeError(failure, error));
    } finally {
      this.busy.delete(key);
      if (this.session === session) this.afterCallChange();
    }
  }

  /** After any change to the calls: redraw, and refresh the history (debounced). */
  private afterCallChange(): void {
    this.answerPending();
    this.renderCalls();
    if (this.session) this.history.refreshSoon();
  }

  private notify(kind: NoticeKind, text: string): void {
    this.notices.notify(kind, text);
  }

  // ── Rendering ─────────────────────────────────────────────────────────────────────────────

  private renderAll(): void {
    this.renderTopBar();
    this.renderBanner();
    this.notices.render();
    const signedIn = this.session !== null && !this.signingIn;
    this.login.element.parentElement!.hidden = signedIn;
    this.workspace.hidden = !signedIn;
    this.root.classList.toggle("is-signed-in", signedIn);
    this.login.setRecent(this.recent.list().map((entry) => entry.userID));
    this.renderPeople();
    this.renderCalls();
    this.history.render();
    this.renderPush();
  }

  private renderTopBar(): void {
    replaceChildren(
      this.topBar,
      topBarContent(this.connection, this.session?.userID ?? null, () => void this.signOut()),
    );
  }

  private renderBanner(): void {
    this.banner.dataset.mode = this.tokenMode;
    replaceChildren(
      this.banner,
      this.tokenMode === "development"
        ? [
            h("strong", null, "Development mode."),
            " This server hands out a token to anyone who asks (POST /dev/token). Fine on your " +
              "machine; never expose it like this. Production tokens: docs/tokens.md.",
          ]
        : this.tokenMode === "production"
          ? [
              // The page only sees that /dev/token is off: in production mode, or in
              // development mode with a secret of the operator's own (the node says which).
              h("strong", null, "No development tokens."),
              " This server does not hand out development tokens: sign in with a token from " +
                "your app's backend (docs/tokens.md).",
            ]
          : "Checking the server…",
    );
  }

  private renderPeople(): void {
    const me = this.session?.userID ?? null;
    const online = this.online.list();
    const recent = this.recent.list().map((entry) => entry.userID);
    const people = [...new Set([...online, ...recent])]
      .filter((userID) => userID !== me)
      .slice(0, 16)
      .map((userID) => ({ userID, online: online.has(userID) }));
    replaceChildren(
      this.dialer.peopleSlot,
      peopleView(
        people,
        this.tokenMode === "development",
        this.dialer.selected(),
        (userID) => this.dialer.toggle(userID),
        (userID) => this.recent.forget(userID),
      ),
    );
    if (!this.session) this.login.setRecent(recent);
  }

  private renderCalls(): void {
    this.screen.render();
  }
}
