// `kill -9` of a real server process under load: after a restart on the same data folder, no
// call is lost, no state change a client was told succeeded is lost, and no deadline is lost.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CallState, CallUserState, ConnectionState, ErrorCode } from "@beckon/protocol";
import { afterEach, beforeAll, expect, it } from "vitest";
import { type Device, SECRET, useWorld } from "./support/world.js";

const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const world = useWorld();
const children: ChildProcess[] = [];
const dirs: string[] = [];

beforeAll(() => {
  if (!existsSync(cli))
    throw new Error("packages/server/dist is missing: run `npm run build` first");
});
afterEach(async () => {
  for (const child of children.splice(0)) await stop(child, "SIGKILL");
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return typeof address === "object" && address ? address.port : 0;
}

async function start(port: number, data: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [cli, "start", "--port", String(port), "--host", "127.0.0.1", "--data", data],
    {
      env: { ...process.env, BECKON_SECRET: SECRET, NODE_ENV: "" },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("WebSocket:")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`server exited early (${code}): ${output}`)));
  });
  return child;
}

async function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill(signal);
  await exited;
}

type Promise_ = { callID: string; userID: string; state: CallUserState };

/** Cancels the started calls the device's user is still ringing out of. */
async function cancelForgotten(device: Device): Promise<void> {
  const { callList } = await device.client.queryCallInvitationList({ count: 10, nextFlag: 0 });
  for (const call of callList) {
    if (call.state === CallState.Started && call.caller === device.userID) {
      await device.client.callCancel([], call.callID, {}).catch(() => undefined);
    }
  }
}

it("kill -9 under load loses no call, no acknowledged change and no deadline", async () => {
  const port = await freePort();
  const data = mkdtempSync(join(tmpdir(), "beckon-crash-"));
  dirs.push(data);
  let server = await start(port, data);
  const url = `ws://127.0.0.1:${port}/ws`;
  const PAIRS = 8;
  const ROUNDS = 12;
  const pairs = await Promise.all(
    Array.from({ length: PAIRS }, async (_, i) => ({
      caller: await world.device({ url }, `caller${i}`),
      callee: await world.device({ url }, `callee${i}`),
    })),
  );

  const promised: Promise_[] = []; // what clients were told succeeded
  const ringing: Array<{ callID: string; callee: Device }> = [];
  let acknowledged = 0;
  let killed: Promise<void> | undefined;
  const crashAfter = PAIRS * 6;
  const note = (entry: Promise_) => {
    promised.push(entry);
    acknowledged++;
    // Crash in the middle of the traffic, once a good share of it has been acknowledged.
    if (acknowledged === crashAfter) {
      killed = (async () => {
        await stop(server, "SIGKILL");
        server = await start(port, data);
      })();
    }
  };

  await Promise.all(
    pairs.map(async ({ caller, callee }, i) => {
      for (let round = 0; round <= ROUNDS; round++) {
        const last = round === ROUNDS;
        let callID: string;
        try {
          ({ callID } = await caller.client.callInvite([callee.userID], {
            timeout: last ? 4 : 20,
          }));
        } catch (error) {
          // A lost reply leaves the caller in a call it does not know of (busy): it finds the
          // call in its list and cancels it, as an app would, and tries the round again.
          if ((error as { code: number }).code === ErrorCode.CallCommonError) {
            await cancelForgotten(caller).catch(() => undefined);
          }
          continue;
        }
        note({ callID, userID: caller.userID, state: CallUserState.Accepted });
        if (last) {
          ringing.push({ callID, callee });
          return;
        }
        const state = (round + i) % 2 === 0 ? CallUserState.Accepted : CallUserState.Rejected;
        try {
          if (state === CallUserState.Accepted) await callee.client.callAccept(callID, {});
          else await callee.client.callReject(callID, {});
          note({ callID, userID: callee.userID, state });
        } catch {
          // In flight at the crash: the outcome is unknown, so nothing was promised.
        }
      }
    }),
  );
  expect(killed, "the crash happened during the traffic").toBeDefined();
  await killed;

  // Every acknowledged ringing invitation still times out, exactly once, after the restart.
  for (const { callID, callee } of ringing) {
    await callee.waitFor("callInvitationTimeout", (e) => e.callID === callID, 15_000);
  }
  for (const { callID, callee } of ringing) {
    expect(callee.events("callInvitationTimeout", callID)).toHaveLength(1);
  }
  // Every promised state is in the store.
  for (const { caller } of pairs) {
    if (caller.client.connectionState !== ConnectionState.Connected) {
      await caller.waitFor("connectionStateChanged", (e) => e.state === ConnectionState.Connected);
    }
  }
  const stored = new Map<string, Map<string, number>>();
  for (const { caller } of pairs) {
    const { callList } = await caller.client.queryCallInvitationList({ count: 100, nextFlag: 0 });
    for (const call of callList) {
      stored.set(call.callID, new Map(call.callUserList.map((u) => [u.userID, u.state])));
    }
  }
  expect(promised.length).toBeGreaterThan(crashAfter);
  for (const { callID, userID, state } of promised) {
    expect(stored.get(callID)?.get(userID), `${callID} ${userID}`).toBe(state);
  }
  for (const { callID, callee } of ringing) {
    expect(stored.get(callID)?.get(callee.userID)).toBe(CallUserState.Timeout);
  }
}, 90_000);
