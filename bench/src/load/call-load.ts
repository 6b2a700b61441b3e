// A load process for scenarios 1 and 2: holds caller/callee pairs of one system and rings them,
// either at a fixed offered rate (open loop, ring latency) or as fast as they answer (closed
// loop, throughput). Caller and callee live in this process, so one clock times both ends.
import { serveCommands } from "../bench-child.js";
import { type CallPeer, connectPeer, mapLimited, type PeerTarget } from "./call-peers.js";

interface Pair {
  caller: CallPeer;
  callee: CallPeer;
  /** Set while a call of this pair is ringing; gets the callID of the invitation. */
  onInvited: ((callID: string) => void) | null;
}

interface ConnectArgs {
  target: PeerTarget;
  prefix: string;
  pairs: number;
  concurrency: number;
}

export interface RingArgs {
  /** Invitations per second this process offers. */
  rate: number;
  warmupMs: number;
  durationMs: number;
}

export interface RingResult {
  /** Invitation sent -> callee's invitation event, ms, for calls sent in the measured window. */
  latencies: number[];
  sent: number;
  /** Invitations the schedule asked for while every pair was busy (not sent). */
  skipped: number;
  errors: number;
  /** Calls still unsettled when the phase gave up waiting for them. */
  unfinished: number;
  firstError: string | null;
}

export interface SaturateArgs {
  accept: boolean;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
}

export interface SaturateResult {
  /** Calls whose answer was confirmed inside the measured window. */
  completed: number;
  /** Invite -> answer confirmed, ms, per completed call. */
  callTimes: number[];
  errors: number;
  firstError: string | null;
}

const pairs: Pair[] = [];
const DRAIN_LIMIT_MS = 20_000;

function errorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === "object" && error !== null) return JSON.stringify(error);
  return String(error);
}

async function connect({ target, prefix, pairs: count, concurrency }: ConnectArgs) {
  const started = performance.now();
  const made = await mapLimited(
    Array.from({ length: count }, (_, i) => i),
    concurrency,
    async (i) => {
      const [caller, callee] = await Promise.all([
        connectPeer(target, `${prefix}c${i}`),
        connectPeer(target, `${prefix}e${i}`),
      ]);
      const pair: Pair = { caller, callee, onInvited: null };
      callee.onInvitation((callID) => pair.onInvited?.(callID));
      return pair;
    },
  );
  pairs.push(...made);
  return { users: 2 * made.length, ms: performance.now() - started };
}

function ring({ rate, warmupMs, durationMs }: RingArgs): Promise<RingResult> {
  const free = [...pairs];
  const result: RingResult = {
    latencies: [],
    sent: 0,
    skipped: 0,
    errors: 0,
    unfinished: 0,
    firstError: null,
  };
  const fail = (error: unknown) => {
    result.errors += 1;
    result.firstError ??= errorText(error);
  };
  const start = performance.now();
  const measureFrom = start + warmupMs;
  const end = measureFrom + durationMs;
  let scheduled = 0;

  const launch = (pair: Pair, measured: boolean) => {
    let settled = false;
    const release = () => {
      if (settled) return;
      settled = true;
      pair.onInvited = null;
      free.push(pair);
    };
    const sentAt = performance.now();
    pair.onInvited = (callID) => {
      if (measured) result.latencies.push(performance.now() - sentAt);
      pair.onInvited = null;
      pair.callee.answer(callID, false).then(release, (error: unknown) => {
        fail(error);
        release();
      });
    };
    pair.caller.invite(pair.callee.userID).catch((error: unknown) => {
      fail(error);
      release();
    });
  };

  return new Promise<RingResult>((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now();
      if (now >= end) {
        clearInterval(timer);
        const giveUpAt = now + DRAIN_LIMIT_MS;
        const drain = setInterval(() => {
          if (free.length === pairs.length || performance.now() > giveUpAt) {
            clearInterval(drain);
            result.unfinished = pairs.length - free.length;
            resolve(result);
          }
        }, 20);
        return;
      }
      const due = Math.floor(((now - start) / 1000) * rate);
      for (; scheduled < due; scheduled++) {
        const measured = now >= measureFrom;
        const pair = free.pop();
        if (!pair) {
          if (measured) result.skipped += 1;
          continue;
        }
        if (measured) result.sent += 1;
        launch(pair, measured);
      }
    }, 1);
  });
}

async function saturate({
  accept,
  concurrency,
  warmupMs,
  durationMs,
}: SaturateArgs): Promise<SaturateResult> {
  const result: SaturateResult = { completed: 0, callTimes: [], errors: 0, firstError: null };
  const start = performance.now();
  const measureFrom = start + warmupMs;
  const end = measureFrom + durationMs;
  const loop = async (pair: Pair) => {
    while (performance.now() < end) {
      const began = performance.now();
      const invited = new Promise<string | null>((resolve) => {
        pair.onInvited = resolve;
        pair.caller.invite(pair.callee.userID).catch((error: unknown) => {
          result.errors += 1;
          result.firstError ??= errorText(error);
          resolve(null);
        });
      });
      const callID = await invited;
      pair.onInvited = null;
      if (callID === null) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        continue;
      }
      try {
        await pair.callee.answer(callID, accept);
      } catch (error) {
        result.errors += 1;
        result.firstError ??= errorText(error);
        continue;
      }
      const done = performance.now();
      if (done >= measureFrom && done <= end) {
        result.completed += 1;
        result.callTimes.push(done - began);
      }
    }
  };
  await Promise.all(pairs.slice(0, concurrency).map(loop));
  return result;
}

async function close() {
  await Promise.all(pairs.flatMap((pair) => [pair.caller.close(), pair.callee.close()]));
  pairs.length = 0;
  return {};
}

serveCommands({ connect, ring, saturate, close }, { pid: process.pid });
