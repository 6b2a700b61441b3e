// Last-resort handlers for a process running a Beckon node. A promise rejected with nobody
// listening is a bug to log, not a reason to drop every caller; an exception that unwound the
// stack may have left state half-changed, so the process says why and exits for a supervisor
// to restart it.
import { pino } from "pino";

export function installProcessGuards(log = pino({ name: "beckon" })): void {
  process.on("unhandledRejection", (reason) => {
    log.error({ err: reason }, "unhandled promise rejection; still serving");
  });
  process.on("uncaughtException", (error, origin) => {
    log.fatal({ err: error, origin }, "uncaught exception; exiting so a supervisor can restart");
    log.flush?.();
    process.exit(1);
  });
}
