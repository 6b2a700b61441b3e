// What the call views can ask the app to do; the app runs the SDK call and reports errors.

export interface CallActions {
  accept(callID: string): void;
  reject(callID: string): void;
  cancel(callID: string): void;
  quit(callID: string): void;
  end(callID: string): void;
  hangUp(callID: string): void;
  dismiss(callID: string): void;
  addPeople(callID: string, text: string): void;
  /** Remembers what is typed in a call's "add people" field across re-renders. */
  setDraft(callID: string, text: string): void;
  draft(callID: string): string;
  /** True while an SDK request for this action and call is in flight. */
  isBusy(action: string, callID: string): boolean;
}
