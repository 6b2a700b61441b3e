// One contract for the integrations' stores (API keys, push registrations and sends, webhook
// endpoints and deliveries), run against SQLite and PostgreSQL. `another()` opens
// the same data through a second connection, as a second node would: claims must then hold
// across the two.
import { CallInvitationMode } from "@beckon/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { IntegrationStores } from "../../src/integrations/integration-stores.js";
import type { PushMessage } from "../../src/push/push-types.js";
import type { WebhookPayload } from "../../src/webhooks/webhook-events.js";

export interface OpenedIntegrationStores {
  stores: IntegrationStores;
  /** The same data through another connection (another node). */
  another(): Promise<IntegrationStores>;
  close(): Promise<void>;
}

const NOW = 1_800_000_000_000;

function message(callID: string, kind: PushMessage["kind"] = "invite"): PushMessage {
  return {
    kind,
    callID,
    caller: "alice",
    operatedUserID: "alice",
    mode: CallInvitationMode.General,
    deadline: NOW + 30_000,
    sentAt: NOW,
    title: "Alice",
    content: "is calling",
    payload: '{"room":"r1"}',
  };
}

function payload(type: WebhookPayload["type"], callID = "call-1"): WebhookPayload {
  return { type, timestamp: new Date(NOW).toISOString(), data: { callID } };
}

export function describeIntegrationStores(
  name: string,
  open: () => Promise<OpenedIntegrationStores>,
  options: { sharedEndpoints: boolean },
): void {
  describe(`integration stores contract: ${name}`, () => {
    let opened: OpenedIntegrationStores;
    let stores: IntegrationStores;
    beforeEach(async () => {
      opened = await open();
      stores = opened.stores;
    });
    afterEach(() => opened.close());

    describe("API keys", () => {
      it("verifies a created key, and nothing else, until it is revoked", async () => {
        const created = await stores.keys.create("backend", ["write", "read", "write"], NOW);
        expect(created.key).toMatch(/^bk_[A-Za-z0-9_-]{16}_[A-Za-z0-9_-]{32}$/);
        expect(created.scopes).toEqual(["write", "read"]);
        expect(await stores.keys.verify(created.key, NOW + 1)).toMatchObject({
          id: created.id,
          name: "backend",
          scopes: ["write", "read"],
        });
        const wrongSecret = `${created.key.slice(0, -4)}AAAA`;
        expect(await stores.keys.verify(wrongSecret, NOW)).toBeUndefined();
        expect(await stores.keys.verify("bk_nonsense", NOW)).toBeUndefined();
        expect((await stores.keys.list()).map((key) => key.id)).toEqual([created.id]);
        expect(await stores.keys.revoke(created.id)).toBe(true);
        expect(await stores.keys.revoke(created.id)).toBe(false);
        expect(await stores.keys.verify(created.key, NOW + 2)).toBeUndefined();
      });

      it("refuses unknown or no scopes and stores nothing", async () => {
        await expect(stores.keys.create("x", [], NOW)).rejects.toThrow(/scopes must be/);
        await expect(stores.keys.create("x", ["root" as unknown as "read"], NOW)).rejects.toThrow(
          /scopes must be/,
        );
        expect(await stores.keys.list()).toEqual([]);
      });

      it("records when a key was last used, at most once a minute", async () => {
        const created = await stores.keys.create("backend", ["read"], NOW);
        await stores.keys.verify(created.key, NOW + 70_000);
        await stores.keys.verify(created.key, NOW + 80_000);
        expect((await stores.keys.list())[0]?.lastUsedAt).toBe(NOW + 70_000);
      });

      it("a key created through one connection verifies through another", async () => {
        const created = await stores.keys.create("backend", ["admin"], NOW);
        const other = await opened.another();
        expect((await other.keys.verify(created.key, NOW))?.id).toBe(created.id);
        await other.keys.revoke(created.id);
        expect(await stores.keys.verify(created.key, NOW)).toBeUndefined();
      });
    });

    describe("push registrations and sends", () => {
      const fcm = (token: string) => ({ provider: "fcm" as const, token });

      it("a device's new registration replaces its old one, and an address changes hands", async () => {
        const first = await stores.pushRegistrations.add("bob", "phone", fcm("t1"), NOW);
        const second = await stores.pushRegistrations.add("bob", "phone", fcm("t2"), NOW + 1);
        expect(await stores.pushRegistrations.get(first.id)).toBeUndefined();
        expect(await stores.pushRegistrations.get(second.id)).toEqual(second);
        // The phone goes to carol: bob's registration of that token is gone.
        const carols = await stores.pushRegistrations.add("carol", "phone", fcm("t2"), NOW + 2);
        expect(await stores.pushRegistrations.listOf("bob")).toEqual([]);
        expect(await stores.pushRegistrations.listOf("carol")).toEqual([carols]);
        const web = await stores.pushRegistrations.add(
          "carol",
          "laptop",
          {
            provider: "webpush",
            endpoint: "https://push.example/1",
            keys: { p256dh: "p", auth: "a" },
          },
          NOW + 3,
        );
        expect(await stores.pushRegistrations.listOf("carol")).toEqual([carols, web]);
        expect(await stores.pushRegistrations.remove(web.id, "bob")).toBe(false);
        expect(await stores.pushRegistrations.remove(web.id, "carol")).toBe(true);
        expect(await stores.pushRegistrations.removeAllOf("carol")).toBe(1);
        expect(await stores.pushRegistrations.listOf("carol")).toEqual([]);
      });

      it("two nodes registering one address at once leave one registration", async () => {
        const other = await opened.another();
        await Promise.all([
          stores.pushRegistrations.add("bob", "phone", fcm("shared"), NOW),
          other.pushRegistrations.add("dave", "phone", fcm("shared"), NOW),
        ]);
        const left = [
          ...(await stores.pushRegistrations.listOf("bob")),
          ...(await stores.pushRegistrations.listOf("dave")),
        ];
        expect(left).toHaveLength(1);
      });

      it("claims a push once per fact and registration, also with two nodes claiming", async () => {
        const other = await opened.another();
        const registration = await stores.pushRegistrations.add("bob", "phone", fcm("t"), NOW);
        for (let round = 0; round < 10; round++) {
          const key = `call-${round}:1:0`;
          const claims = await Promise.all([
            stores.pushRegistrations.claimSend(key, registration, message(`call-${round}`), NOW),
            other.pushRegistrations.claimSend(key, registration, message(`call-${round}`), NOW),
          ]);
          expect(claims.filter((claim) => claim !== undefined)).toHaveLength(1);
        }
        const [send] = await stores.pushRegistrations.sendsOf("call-0");
        expect(send).toMatchObject({
          dedupeKey: "call-0:1:0",
          userID: "bob",
          deviceID: "phone",
          registrationID: registration.id,
          provider: "fcm",
          kind: "invite",
          status: "queued",
          queuedAt: NOW,
          message: message("call-0"),
        });
      });

      it("finishes sends, lists a call's invitations and purges only finished ones", async () => {
        const bob = await stores.pushRegistrations.add("bob", "phone", fcm("b"), NOW);
        const carol = await stores.pushRegistrations.add("carol", "phone", fcm("c"), NOW);
        const toBob = await stores.pushRegistrations.claimSend("k1", bob, message("c1"), NOW);
        const toCarol = await stores.pushRegistrations.claimSend("k2", carol, message("c1"), NOW);
        const stop = await stores.pushRegistrations.claimSend(
          "k3",
          bob,
          message("c1", "cancel"),
          NOW + 5,
        );
        await stores.pushRegistrations.finishSend(toBob?.id ?? 0, "sent", 200, "", NOW + 1);
        await stores.pushRegistrations.finishSend(
          stop?.id ?? 0,
          "failed",
          503,
          "x".repeat(900),
          NOW + 6,
        );
        expect((await stores.pushRegistrations.invitesPushed("c1")).map((s) => s.id)).toEqual([
          toBob?.id,
          toCarol?.id,
        ]);
        expect(
          (await stores.pushRegistrations.invitesPushed("c1", "carol")).map((s) => s.id),
        ).toEqual([toCarol?.id]);
        const sends = await stores.pushRegistrations.sendsOf("c1");
        expect(sends.map((s) => [s.kind, s.status, s.httpStatus, s.doneAt])).toEqual([
          ["invite", "sent", 200, NOW + 1],
          ["invite", "queued", 0, 0],
          ["cancel", "failed", 503, NOW + 6],
        ]);
        expect(sends[2]?.reason).toHaveLength(500);
        // Queued sends stay, whatever their age.
        expect(await stores.pushRegistrations.purgeSendsBefore(NOW + 100)).toBe(2);
        expect((await stores.pushRegistrations.sendsOf("c1")).map((s) => s.id)).toEqual([
          toCarol?.id,
        ]);
      });

      it("hands a queued push whose claim is stale to exactly one taker", async () => {
        const other = await opened.another();
        const registration = await stores.pushRegistrations.add("bob", "phone", fcm("t"), NOW);
        const old = await stores.pushRegistrations.claimSend(
          "old",
          registration,
          message("c1"),
          NOW,
        );
        const recent = await stores.pushRegistrations.claimSend(
          "recent",
          registration,
          message("c2"),
          NOW + 60_000,
        );
        const done = await stores.pushRegistrations.claimSend(
          "done",
          registration,
          message("c3"),
          NOW,
        );
        await stores.pushRegistrations.finishSend(done?.id ?? 0, "sent", 201, "", NOW + 1);
        const takes = await Promise.all([
          stores.pushRegistrations.reclaimQueued(NOW + 30_000, NOW + 90_000),
          other.pushRegistrations.reclaimQueued(NOW + 30_000, NOW + 90_000),
        ]);
        expect(takes.flat().map((send) => send.id)).toEqual([old?.id]);
        // Taken over now: not stale again until its new claim is.
        expect(await stores.pushRegistrations.reclaimQueued(NOW + 60_001, NOW + 95_000)).toEqual([
          expect.objectContaining({ id: recent?.id }),
        ]);
        expect(
          (await stores.pushRegistrations.reclaimQueued(NOW + 200_000, NOW + 200_000)).map(
            (send) => send.id,
          ),
        ).toEqual([old?.id, recent?.id]);
      });
    });

    describe("webhooks", () => {
      it("queues an event once per endpoint whose filter takes it", async () => {
        const all = await stores.webhooks.addEndpoint(
          { url: "https://a.example/hook", events: null, description: "all" },
          NOW,
        );
        const ends = await stores.webhooks.addEndpoint(
          { url: "https://b.example/hook", events: ["call_end"], description: "" },
          NOW + 1,
        );
        expect(all.secret).toMatch(/^whsec_/);
        expect(await stores.webhooks.listEndpoints()).toEqual([all, ends]);
        expect(await stores.webhooks.getEndpoint(ends.id)).toEqual(ends);
        const invite = await stores.webhooks.enqueue("f1", payload("call_invite"), NOW);
        expect(invite.map((d) => d.endpointID)).toEqual([all.id]);
        const end = await stores.webhooks.enqueue("f2", payload("call_end"), NOW);
        expect(end.map((d) => d.endpointID).sort()).toEqual([all.id, ends.id].sort());
        expect(end[0]).toMatchObject({
          type: "call_end",
          body: JSON.stringify(payload("call_end")),
          status: "pending",
          attempts: 0,
          nextAttemptAt: NOW,
          createdAt: NOW,
        });
        // The time first (12 hex digits), then the random part.
        expect(end[0]?.id).toMatch(
          new RegExp(`^msg_${NOW.toString(16).padStart(12, "0")}[A-Za-z0-9_-]{16}$`),
        );
        // The same fact again (a relay repeating itself, on any node): nothing new.
        expect(await stores.webhooks.enqueue("f2", payload("call_end"), NOW + 5)).toEqual([]);
        expect(await stores.webhooks.nextDueAt()).toBe(NOW);
        // An endpoint's removal takes its queue with it.
        expect(await stores.webhooks.removeEndpoint(all.id)).toBe(true);
        expect(await stores.webhooks.removeEndpoint(all.id)).toBe(false);
        const left = await stores.webhooks.listDeliveries({ limit: 10 });
        expect(left.map((d) => d.endpointID)).toEqual([ends.id]);
      });

      it("queues a relay round's events in one call, each once per endpoint that takes it", async () => {
        const all = await stores.webhooks.addEndpoint(
          { url: "https://a.example/hook", events: null, description: "all" },
          NOW,
        );
        const ends = await stores.webhooks.addEndpoint(
          { url: "https://b.example/hook", events: ["call_end"], description: "" },
          NOW + 1,
        );
        const round = [
          { dedupeKey: "r1", payload: payload("call_invite") },
          { dedupeKey: "r2", payload: payload("call_end") },
        ];
        const created = await stores.webhooks.enqueueMany(round, NOW);
        expect(created.map((d) => `${d.type} ${d.endpointID}`).sort()).toEqual(
          [`call_invite ${all.id}`, `call_end ${all.id}`, `call_end ${ends.id}`].sort(),
        );
        expect(created.find((d) => d.type === "call_end")?.body).toBe(
          JSON.stringify(payload("call_end")),
        );
        // The round again (the relay repeating itself): nothing new; an empty round is fine.
        expect(await stores.webhooks.enqueueMany(round, NOW + 5)).toEqual([]);
        expect(await stores.webhooks.enqueueMany([], NOW + 5)).toEqual([]);
        expect(await stores.webhooks.listDeliveries({ limit: 10 })).toHaveLength(3);
      });

      it("claims nothing of a paused endpoint until its pause ends, and says when that is", async () => {
        const paused = await stores.webhooks.addEndpoint(
          { url: "https://a.example/hook", events: null, description: "" },
          NOW,
        );
        const healthy = await stores.webhooks.addEndpoint(
          { url: "https://b.example/hook", events: ["call_end"], description: "" },
          NOW + 1,
        );
        await stores.webhooks.enqueueMany(
          [
            { dedupeKey: "p1", payload: payload("call_invite") },
            { dedupeKey: "p2", payload: payload("call_end") },
          ],
          NOW,
        );
        await stores.webhooks.pauseEndpoint(paused.id, NOW + 1_000);
        // An earlier pause does not shorten a later one.
        await stores.webhooks.pauseEndpoint(paused.id, NOW + 500);
        const claimed = await stores.webhooks.claimDue(NOW + 10, 10, NOW + 100, "node-a");
        expect(claimed.map((d) => d.endpointID)).toEqual([healthy.id]);
        expect(await stores.webhooks.nextDueAt()).toBe(NOW + 100);
        await stores.webhooks.recordAttempt(
          {
            deliveryID: claimed[0]?.id as string,
            attempt: 1,
            at: NOW + 10,
            httpStatus: 204,
            error: "",
            durationMs: 1,
          },
          { status: "delivered", nextAttemptAt: 0 },
        );
        expect(await stores.webhooks.nextDueAt()).toBe(NOW + 1_000);
        expect(await stores.webhooks.claimDue(NOW + 999, 10, NOW + 2_000, "node-a")).toEqual([]);
        const after = await stores.webhooks.claimDue(NOW + 1_000, 10, NOW + 2_000, "node-a");
        expect(after.map((d) => d.endpointID).sort()).toEqual([paused.id, paused.id]);
      });

      // A SQLite store keeps its endpoints in memory: it is the only writer of its file's table,
      // so this case is only part of the contract of stores other nodes share.
      if (options.sharedEndpoints)
        it("an endpoint added through one node gets the events queued through another", async () => {
          const other = await opened.another();
          // The other node queues something first, so anything it keeps of the endpoints is warm.
          expect(await other.webhooks.enqueue("f0", payload("call_invite"), NOW)).toEqual([]);
          const endpoint = await stores.webhooks.addEndpoint(
            { url: "https://a.example/hook", events: null, description: "" },
            NOW,
          );
          const queued = await other.webhooks.enqueue("f1", payload("call_invite"), NOW);
          expect(queued.map((d) => d.endpointID)).toEqual([endpoint.id]);
        });

      it("gives each due delivery to one of two claiming nodes, and again after a lease runs out", async () => {
        const other = await opened.another();
        await stores.webhooks.addEndpoint(
          { url: "https://a.example/hook", events: null, description: "" },
          NOW,
        );
        const ids: string[] = [];
        for (let i = 0; i < 12; i++) {
          const [delivery] = await stores.webhooks.enqueue(
            `f${i}`,
            payload("call_invite"),
            NOW + i,
          );
          ids.push(delivery?.id ?? "");
        }
        const lease = NOW + 100_000;
        const claims = await Promise.all([
          stores.webhooks.claimDue(NOW + 20, 8, lease, "node-a"),
          other.webhooks.claimDue(NOW + 20, 8, lease, "node-b"),
        ]);
        const claimed = claims.flat().map((d) => d.id);
        expect(claimed.sort()).toEqual([...ids].sort());
        expect(claims.flat().every((d) => d.nextAttemptAt === lease)).toBe(true);
        // Nobody gets them while the leases hold ...
        expect(await stores.webhooks.claimDue(lease - 1, 50, lease + 1_000, "node-a")).toEqual([]);
        expect(await stores.webhooks.nextDueAt()).toBe(lease);
        // ... and once they run out (node-b died mid-attempt), they are due again.
        const again = await stores.webhooks.claimDue(lease, 50, lease + 100_000, "node-a");
        expect(again.map((d) => d.id).sort()).toEqual([...ids].sort());
      });

      it("records attempts: a retry is due later, a success or the last failure is done", async () => {
        const endpoint = await stores.webhooks.addEndpoint(
          { url: "https://a.example/hook", events: null, description: "" },
          NOW,
        );
        const [first] = await stores.webhooks.enqueue("f1", payload("call_invite"), NOW);
        const [second] = await stores.webhooks.enqueue("f2", payload("call_end"), NOW + 1);
        const id1 = first?.id ?? "";
        const id2 = second?.id ?? "";
        await stores.webhooks.claimDue(NOW + 1, 10, NOW + 15_000, "node-a");
        await stores.webhooks.recordAttempt(
          {
            deliveryID: id1,
            attempt: 1,
            at: NOW + 2,
            httpStatus: 503,
            error: "busy",
            durationMs: 7,
          },
          { status: "pending", nextAttemptAt: NOW + 2_002 },
        );
        await stores.webhooks.recordAttempt(
          {
            deliveryID: id2,
            attempt: 1,
            at: NOW + 2,
            httpStatus: 0,
            error: "refused",
            durationMs: 1,
          },
          { status: "dead", nextAttemptAt: 0 },
        );
        expect(await stores.webhooks.nextDueAt()).toBe(NOW + 2_002);
        expect(await stores.webhooks.getDelivery(id1)).toMatchObject({
          status: "pending",
          attempts: 1,
          nextAttemptAt: NOW + 2_002,
          lastStatus: 503,
          lastError: "busy",
          doneAt: 0,
        });
        await stores.webhooks.claimDue(NOW + 2_002, 10, NOW + 20_000, "node-b");
        await stores.webhooks.recordAttempt(
          {
            deliveryID: id1,
            attempt: 2,
            at: NOW + 2_003,
            httpStatus: 204,
            error: "",
            durationMs: 3,
          },
          { status: "delivered", nextAttemptAt: 0 },
        );
        expect(await stores.webhooks.nextDueAt()).toBeUndefined();
        expect(
          (await stores.webhooks.attemptsOf(id1)).map((a) => [a.attempt, a.httpStatus]),
        ).toEqual([
          [1, 503],
          [2, 204],
        ]);
        expect(await stores.webhooks.getDelivery(id2)).toMatchObject({
          status: "dead",
          doneAt: NOW + 2,
        });
        // Listing: newest first, by status and endpoint, in pages.
        expect((await stores.webhooks.listDeliveries({ limit: 10 })).map((d) => d.id)).toEqual([
          id2,
          id1,
        ]);
        expect(
          (await stores.webhooks.listDeliveries({ limit: 10, status: "dead" })).map((d) => d.id),
        ).toEqual([id2]);
        expect(
          (
            await stores.webhooks.listDeliveries({
              limit: 10,
              endpointID: endpoint.id,
              before: { createdAt: NOW + 1, id: id2 },
            })
          ).map((d) => d.id),
        ).toEqual([id1]);
        // Replay: a finished delivery is queued again from attempt 1; a pending one is not.
        expect(await stores.webhooks.replay(id2, NOW + 5_000)).toBe(true);
        expect(await stores.webhooks.replay(id2, NOW + 5_000)).toBe(false);
        expect(await stores.webhooks.getDelivery(id2)).toMatchObject({
          status: "pending",
          attempts: 0,
          nextAttemptAt: NOW + 5_000,
          doneAt: 0,
        });
        // Purge forgets finished deliveries only, with their attempts.
        expect(await stores.webhooks.purgeBefore(NOW + 10_000)).toBe(1);
        expect(await stores.webhooks.getDelivery(id1)).toBeUndefined();
        expect(await stores.webhooks.attemptsOf(id1)).toEqual([]);
        expect(await stores.webhooks.getDelivery(id2)).toBeDefined();
      });
    });

    describe("health (the console's read model)", () => {
      it("tells each endpoint's pause, queue and last failure, and the pushes by provider", async () => {
        const failing = await stores.webhooks.addEndpoint(
          { url: "https://a.example/hook", events: null, description: "" },
          NOW,
        );
        const quiet = await stores.webhooks.addEndpoint(
          { url: "https://b.example/hook", events: ["call_end"], description: "" },
          NOW + 1,
        );
        await stores.webhooks.enqueueMany(
          [
            { dedupeKey: "h1", payload: payload("call_invite") },
            { dedupeKey: "h2", payload: payload("call_accept") },
          ],
          NOW,
        );
        const [first] = await stores.webhooks.claimDue(NOW + 10, 1, NOW + 100, "node-a");
        await stores.webhooks.recordAttempt(
          {
            deliveryID: first?.id as string,
            attempt: 1,
            at: NOW + 20,
            httpStatus: 503,
            error: "",
            durationMs: 3,
          },
          { status: "pending", nextAttemptAt: NOW + 2_000 },
        );
        await stores.webhooks.pauseEndpoint(failing.id, NOW + 60_000);
        const health = await stores.health.endpoints(NOW - 1);
        expect(health).toEqual([
          {
            endpointID: failing.id,
            pausedUntil: NOW + 60_000,
            queueDepth: 2,
            delivered: 0,
            dead: 0,
            lastError: { at: NOW + 20, httpStatus: 503, error: "" },
          },
          {
            endpointID: quiet.id,
            pausedUntil: 0,
            queueDepth: 0,
            delivered: 0,
            dead: 0,
            lastError: null,
          },
        ]);

        const bob = await stores.pushRegistrations.add(
          "bob",
          "phone",
          { provider: "fcm", token: "hb" },
          NOW,
        );
        const sent = await stores.pushRegistrations.claimSend("hk1", bob, message("hc"), NOW);
        const failed = await stores.pushRegistrations.claimSend("hk2", bob, message("hc"), NOW);
        await stores.pushRegistrations.claimSend("hk3", bob, message("hc"), NOW);
        const old = await stores.pushRegistrations.claimSend("hk4", bob, message("hc"), NOW - 10);
        await stores.pushRegistrations.finishSend(sent?.id ?? 0, "sent", 200, "", NOW + 1);
        await stores.pushRegistrations.finishSend(failed?.id ?? 0, "failed", 500, "", NOW + 1);
        await stores.pushRegistrations.finishSend(old?.id ?? 0, "failed", 500, "", NOW + 1);
        expect(await stores.health.pushes(NOW)).toEqual([
          { provider: "fcm", sent: 1, failed: 1, expired: 0, queued: 1 },
        ]);
      });
    });
  });
}
