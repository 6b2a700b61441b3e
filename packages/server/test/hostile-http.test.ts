// Requests a stranger can send to the HTTP port: none of them may stop the node. Each gets an
// HTTP error (or a closed connection) and /healthz answers after every one.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useWorld } from "./support/world.js";

const world = useWorld();
let demo = "";

beforeAll(() => {
  demo = mkdtempSync(join(tmpdir(), "beckon-demo-"));
  writeFileSync(join(demo, "index.html"), "<!doctype html><title>demo</title>");
});
afterAll(() => rmSync(demo, { recursive: true, force: true }));

/** Sends raw bytes and resolves with the status line of the answer ("" if the socket closed). */
function exchange(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(text));
    let received = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      received += chunk;
      // The status line is all the test needs; an upgraded socket would otherwise stay open.
      if (received.includes("\r\n")) socket.destroy();
    });
    socket.on("close", () => resolve(received.split("\r\n")[0] ?? ""));
    socket.on("error", (error: NodeJS.ErrnoException) =>
      error.code === "ECONNRESET" ? resolve("") : reject(error),
    );
  });
}

const upgradeHeaders = (key = "dGhlIHNhbXBsZSBub25jZQ==", version = "13") =>
  `Host: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n${
    version ? `Sec-WebSocket-Version: ${version}\r\n` : ""
  }Sec-WebSocket-Key: ${key}\r\n\r\n`;

const corpus: Array<[string, string, RegExp]> = [
  ["GET /%", "GET /% HTTP/1.1\r\nHost: x\r\n\r\n", / 400 /],
  ["HEAD /%zz", "HEAD /%zz HTTP/1.1\r\nHost: x\r\n\r\n", / 400 /],
  ["GET //", "GET // HTTP/1.1\r\nHost: x\r\n\r\n", / 40\d /],
  ["GET //[", "GET //[ HTTP/1.1\r\nHost: x\r\n\r\n", / 40\d /],
  ["GET http://[::1", "GET http://[::1 HTTP/1.1\r\nHost: x\r\n\r\n", / 400 /],
  ["a cut UTF-8 escape", "GET /assets/%E0%A4%A HTTP/1.1\r\nHost: x\r\n\r\n", / 400 /],
  ["an escaped traversal", "GET /..%2f..%2fetc%2fpasswd HTTP/1.1\r\nHost: x\r\n\r\n", / 40\d /],
  ["a NUL in the path", "GET /%00 HTTP/1.1\r\nHost: x\r\n\r\n", / 40\d /],
  ["a bad request line", "NOT HTTP AT ALL\r\n\r\n", / 400 /],
  ["a bad header", "GET / HTTP/1.1\r\nHo st: x\r\n\r\n", / 400 /],
  ["a huge header", `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(64_000)}\r\n\r\n`, / 431 /],
  [
    "a bad token body",
    "POST /dev/token HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n{{{",
    / 400 /,
  ],
  [
    "a body over the limit",
    `POST /dev/token HTTP/1.1\r\nHost: x\r\nContent-Length: 10000\r\n\r\n${"a".repeat(10_000)}`,
    / 413 /,
  ],
  ["an upgrade on //", `GET // HTTP/1.1\r\n${upgradeHeaders()}`, / 40\d /],
  ["an upgrade on /%", `GET /% HTTP/1.1\r\n${upgradeHeaders()}`, / 400 /],
  ["an upgrade on //ws", `GET //ws HTTP/1.1\r\n${upgradeHeaders()}`, / 404 /],
  ["an upgrade on /ws?%", `GET /ws?% HTTP/1.1\r\n${upgradeHeaders()}`, / (101|400) /],
  ["an upgrade with a bad key", `GET /ws HTTP/1.1\r\n${upgradeHeaders("bad")}`, / 400 /],
  ["an upgrade with no version", `GET /ws HTTP/1.1\r\n${upgradeHeaders(undefined, "")}`, / 400 /],
  ["an upgrade with version 7", `GET /ws HTTP/1.1\r\n${upgradeHeaders(undefined, "7")}`, / 400 /],
  ["a POST upgrade", `POST /ws HTTP/1.1\r\n${upgradeHeaders()}`, / 40\d /],
];

describe("hostile HTTP requests", () => {
  for (const mode of ["development", "production"] as const) {
    it(`get an error and leave the node serving (${mode})`, async () => {
      const server = await world.server(
        mode === "development" ? { devTokens: true, staticDir: demo } : {},
      );
      for (const [name, text, expected] of corpus) {
        const status = await exchange(server.port, text);
        // Production has no /dev/token route: a body sent there is a 404 instead.
        if (mode === "development" || !text.includes("/dev/token")) {
          expect(status, name).toMatch(expected);
        }
        const health = await fetch(`${server.httpUrl}/healthz`);
        expect(health.status, `after ${name}`).toBe(200);
      }
    });
  }

  it("a client that never finishes its headers does not block anyone else", async () => {
    const server = await world.server({ devTokens: true });
    const slow = connect(server.port, "127.0.0.1");
    await new Promise<void>((resolve) => slow.once("connect", resolve));
    slow.write("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    const closed = new Promise<void>((resolve) => slow.once("close", () => resolve()));
    try {
      expect((await fetch(`${server.httpUrl}/healthz`)).status).toBe(200);
    } finally {
      slow.destroy();
      await closed;
    }
  });

  it("/readyz says the store answers", async () => {
    const server = await world.server();
    const ready = await fetch(`${server.httpUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, checks: { store: "ok" } });
  });

  it("the demo page comes with security headers", async () => {
    const server = await world.server({ staticDir: demo });
    const page = await fetch(`${server.httpUrl}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<title>demo</title>");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    expect(page.headers.get("referrer-policy")).toBe("no-referrer");
  });

  it("/dev/token refuses a post from another site's page and mints nothing", async () => {
    const server = await world.server({ devTokens: true });
    const post = (headers: Record<string, string>) =>
      fetch(`${server.httpUrl}/dev/token`, { method: "POST", body: '{"userID":"a"}', headers });
    const foreign = await post({ origin: "https://evil.example" });
    expect(foreign.status).toBe(403);
    expect(JSON.stringify(await foreign.json())).not.toContain('token":"');
    expect((await post({ "sec-fetch-site": "cross-site" })).status).toBe(403);
    expect((await post({ origin: server.httpUrl })).status).toBe(200);
  });
});
