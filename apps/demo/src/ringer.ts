// Rings while an invitation waits for an answer: a ring tone made with Web Audio (no sound file
// to download) and, while the tab is hidden, a browser notification. Browsers allow sound and
// the notification prompt only after a click, so `unlock()` is called from one.

/** Two mixed tones, on for a second in every three, as a phone line rings. */
const TONES_HZ = [440, 480];
const RING_MS = 1_000;
const CYCLE_MS = 3_000;

export class Ringer {
  private context: AudioContext | null = null;
  private cycle: ReturnType<typeof setInterval> | undefined;
  private notification: Notification | null = null;
  private ringing: { callID: string; caller: string } | null = null;

  constructor() {
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") this.showNotification();
      else this.closeNotification();
    });
    // A reload signs back in without a click; the first click anywhere allows sound again.
    document.addEventListener("pointerdown", () => this.unlock({ askToNotify: false }), {
      once: true,
      capture: true,
    });
    this.mark();
  }

  /** From a click: allows the ring tone, and asks once whether notifications may be shown. */
  unlock({ askToNotify = true } = {}): void {
    try {
      this.context ??= new AudioContext();
      void this.context.resume();
    } catch {
      this.context = null; // no Web Audio here: ring silently
    }
    if (askToNotify && "Notification" in window && Notification.permission === "default") {
      void Notification.requestPermission();
    }
    if (this.ringing && this.cycle === undefined) this.startTone();
  }

  /** The call that rings now, or null; the same call again changes nothing. */
  update(ringing: { callID: string; caller: string } | null): void {
    if (ringing?.callID === this.ringing?.callID) return;
    this.stop();
    this.ringing = ringing;
    if (!ringing) return;
    this.startTone();
    if (document.visibilityState === "hidden") this.showNotification();
    this.mark();
  }

  stop(): void {
    clearInterval(this.cycle);
    this.cycle = undefined;
    this.closeNotification();
    this.ringing = null;
    this.mark();
  }

  private startTone(): void {
    const context = this.context;
    if (!context) return;
    const ring = () => {
      const gain = context.createGain();
      const now = context.currentTime;
      gain.gain.setValueAtTime(0, now);
      gain.gain.linearRampToValueAtTime(0.15, now + 0.02);
      gain.gain.setValueAtTime(0.15, now + RING_MS / 1000 - 0.02);
      gain.gain.linearRampToValueAtTime(0, now + RING_MS / 1000);
      gain.connect(context.destination);
      for (const frequency of TONES_HZ) {
        const tone = context.createOscillator();
        tone.frequency.value = frequency;
        tone.connect(gain);
        tone.start(now);
        tone.stop(now + RING_MS / 1000);
      }
    };
    ring();
    this.cycle = setInterval(ring, CYCLE_MS);
    this.mark();
  }

  private showNotification(): void {
    const ringing = this.ringing;
    if (!ringing || this.notification || !("Notification" in window)) return;
    if (Notification.permission !== "granted") return;
    const notification = new Notification(`${ringing.caller} is calling`, {
      body: "Beckon demo: open the tab to answer.",
      tag: `beckon-${ringing.callID}`,
      requireInteraction: true,
    });
    notification.onclick = () => {
      window.focus();
      notification.close();
    };
    this.notification = notification;
  }

  private closeNotification(): void {
    this.notification?.close();
    this.notification = null;
  }

  /** What rings, on the page root, for people inspecting the page and for its tests. */
  private mark(): void {
    const root = document.documentElement;
    root.dataset.ringtone = this.cycle !== undefined ? "playing" : this.ringing ? "muted" : "off";
  }
}
