// A local HTTP endpoint standing in for a third party (a push service, an app backend): it
// records each request and answers with what the test scripted, so tests await requests
// instead of sleeping.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export type Responder = (request: ReceivedRequest) => Reply | Promise<Reply>;

export class HttpReceiver {
  readonly requests: ReceivedRequest[] = [];
  private readonly waiters: Array<() => void> = [];
  private server: Server | undefined;
  responder: Responder = () => ({ status: 201 });

  get url(): string {
    if (!this.server) throw new Error("the receiver is not started");
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", async () => {
        const body = Buffer.concat(chunks);
        const received: ReceivedRequest = {
          method: request.method ?? "",
          path: request.url ?? "",
          headers: request.headers,
          body,
          text: body.toString("utf8"),
        };
        this.requests.push(received);
        for (const wake of this.waiters.splice(0)) wake();
        const reply = await this.responder(received);
        response.writeHead(reply.status, reply.headers ?? { "content-type": "application/json" });
        response.end(reply.body ?? "");
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    return this;
  }

  /** Resolves once `count` requests (in all) matching `match` have arrived. */
  async waitFor(
    count = 1,
    match: (request: ReceivedRequest) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<ReceivedRequest[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.requests.filter(match);
      if (found.length >= count) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`only ${found.length} of ${count} requests arrived`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
