// Every option of a Beckon node in one zod schema: `createServer` validates with it, the `beckon`
// CLI reads flags, BECKON_* variables and the config file through it, and docs/configuration.md
// is checked against it.
import { defaultEngineSettings } from "@beckon/engine";
import { MAX_DEVICES_PER_USER, MAX_EXTENDED_DATA_BYTES } from "@beckon/protocol";
import { z } from "zod";
import type { PushOptions } from "./integrations/create-integrations.js";
import { publicKeyProblem } from "./token-verifier.js";

/** The shortest token-signing secret a node accepts. */
export const MIN_SECRET_LENGTH = 16;

/** Offline push providers, and where the Web Push (VAPID) keys are kept. */
export type PushSettings = PushOptions & { vapidDir?: string };

const DAY_MS = 86_400_000;

export const logLevels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export const logFormats = ["auto", "pretty", "json"] as const;

/** Extra facts each option carries for the CLI and the docs. */
type OptionMeta = {
  description: string;
  /** false: only `createServer` takes it (the CLI sets it itself, or it is not ready yet). */
  cli?: boolean;
  /** What `beckon start` uses when nothing is given, where it differs from `createServer`. */
  cliDefault?: unknown;
};

const meta = (value: OptionMeta) => value;
const int = () => z.number().int();

/** A JWT `kid`: printable, no spaces, so it reads the same in a flag, a file name and a log. */
const keyID = () =>
  z.string().regex(/^[\x21-\x7e]{1,128}$/, "must be 1–128 printable characters without spaces");

/** One extra token key: an HMAC secret or a PEM public key, named by its kid. */
const tokenKeySchema = z
  .object({
    kid: keyID(),
    secret: z.string().min(16, "must be at least 16 characters").optional(),
    publicKey: z
      .string()
      .optional()
      .superRefine((pem, context) => {
        const problem = pem === undefined ? undefined : publicKeyProblem(pem);
        if (problem) context.addIssue({ code: "custom", message: problem });
      }),
  })
  .strict()
  .superRefine((key, context) => {
    if ((key.secret === undefined) === (key.publicKey === undefined)) {
      context.addIssue({ code: "custom", message: "needs either secret or publicKey" });
    }
  });

export const serverOptionsSchema = z
  .object({
    secret: z
      .string({ error: "must be a string" })
      .min(MIN_SECRET_LENGTH, `must be at least ${MIN_SECRET_LENGTH} characters`)
      .meta(
        meta({
          description:
            "HS256 secret login tokens are signed with; the CLI reads BECKON_SECRET or secretFile",
          cli: false,
        }),
      ),
    secretKeyID: keyID()
      .optional()
      .meta(
        meta({
          description:
            "the secret's kid: tokens Beckon mints carry it; a token naming it is checked with the secret (docs/tokens.md)",
        }),
      ),
    tokenKeys: z
      .array(tokenKeySchema)
      .max(100)
      .superRefine((keys, context) => {
        const seen = new Set<string>();
        for (const [index, { kid }] of keys.entries()) {
          if (seen.has(kid)) {
            context.addIssue({
              code: "custom",
              path: [index, "kid"],
              message: `"${kid}" is used twice`,
            });
          }
          seen.add(kid);
        }
      })
      .optional()
      .meta(
        meta({
          description:
            "more token keys by kid: [{kid, secret}] (HS256) or [{kid, publicKey}] (PEM: RS256, ES256, EdDSA)",
          cli: false,
        }),
      ),
    tokenJwksUrl: z
      .url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" })
      .optional()
      .meta(
        meta({
          description:
            "a JWKS URL whose keys verify tokens by kid; refreshed, the last good set kept when a fetch fails",
        }),
      ),
    tokenJwksRefreshSeconds: int()
      .min(1)
      .max(DAY_MS / 1000)
      .default(300)
      .meta(meta({ description: "how often the JWKS is fetched again (with tokenJwksUrl)" })),
    zego: z
      .object({
        appID: int()
          .min(1)
          .max(4_294_967_295)
          .meta(
            meta({
              description:
                "with serverSecret, the app's ZEGO token04 kit tokens log in too (the CLI: zegoAppID)",
              cli: false,
            }),
          ),
        serverSecret: z
          .string()
          .regex(/^.{32}$/, "must be the 32-character ZEGO server secret")
          .meta(
            meta({
              description:
                "the app's ZEGO server secret (the CLI: BECKON_ZEGO_SERVER_SECRET or zegoServerSecretFile)",
              cli: false,
            }),
          ),
      })
      .strict()
      .optional(),
    port: int()
      .min(0)
      .max(65_535)
      .default(0)
      .meta(meta({ description: "HTTP + WebSocket port; 0 picks a free one", cliDefault: 4000 })),
    host: z
      .string()
      .min(1)
      .default("127.0.0.1")
      .meta(
        meta({
          description: "interface to listen on; 0.0.0.0 for every interface (LAN, containers)",
        }),
      ),
    store: z
      .string()
      .min(1)
      .default(":memory:")
      .meta(
        meta({
          description:
            "a SQLite file path, :memory:, or postgres://…[?schema=name] (the CLI uses <data>/beckon.db)",
          cli: false,
        }),
      ),
    redis: z
      .string()
      .optional()
      .meta(
        meta({
          description: "redis://…[?prefix=name] for cluster mode (needs a PostgreSQL store)",
          cli: false,
        }),
      ),
    heartbeatIntervalMs: int()
      .min(10)
      .max(600_000)
      .default(10_000)
      .meta(
        meta({ description: "a device silent for two intervals counts as disconnected (> 0)" }),
      ),
    callerGraceMs: int()
      .min(0)
      .max(DAY_MS)
      .default(defaultEngineSettings.callerGraceMs)
      .meta(
        meta({
          description:
            "how long a lost caller device may stay away before its unanswered calls are cancelled",
        }),
      ),
    memberGraceMs: int()
      .min(100)
      .max(DAY_MS)
      .default(defaultEngineSettings.memberGraceMs)
      .meta(
        meta({
          description:
            "how long an Accepted member may have no device connected before it is quit (SPEC §5)",
        }),
      ),
    notReceivedCheckMs: int()
      .min(3_000)
      .max(5_000)
      .default(defaultEngineSettings.notReceivedCheckMs)
      .meta(
        meta({
          description:
            "when a still-Inviting invitee becomes NotYetReceived (with enableNotReceivedCheck)",
        }),
      ),
    maxDevicesPerUser: int()
      .min(1)
      .max(MAX_DEVICES_PER_USER)
      .default(MAX_DEVICES_PER_USER)
      .meta(meta({ description: "one more login kicks the oldest device (KickedOut)" })),
    maxExtendedDataBytes: int()
      .min(0)
      .max(64 * 1024)
      .default(MAX_EXTENDED_DATA_BYTES)
      .meta(meta({ description: "largest extendedData (UTF-8 bytes) a request may carry" })),
    tokenWarningSeconds: int()
      .min(0)
      .max(DAY_MS / 1000)
      .default(30)
      .meta(meta({ description: "how long before a token expires tokenWillExpire fires" })),
    maxTokenLifetimeSeconds: int()
      .min(60)
      .max(10 * 365 * 86_400)
      .default(30 * 86_400)
      .meta(
        meta({
          description: "a login or renew token that expires further ahead than this is refused",
        }),
      ),
    loginTimeoutMs: int()
      .min(10)
      .max(3_600_000)
      .default(10_000)
      .meta(meta({ description: "a socket that has not logged in by then is closed" })),
    slowReaderMs: int()
      .min(10)
      .max(600_000)
      .default(5_000)
      .meta(
        meta({
          description:
            "a socket that drains nothing of what waits for it for this long is closed with 4005",
        }),
      ),
    retentionMs: int()
      .min(60_000)
      .max(3_650 * DAY_MS)
      .default(30 * DAY_MS)
      .meta(meta({ description: "how long ended calls are kept for queryCallInvitationList" })),
    resumeWindowMs: int()
      .min(0)
      .max(DAY_MS)
      .default(120_000)
      .meta(
        meta({
          description:
            "how long a dropped device may take to come back and get exactly the events it missed",
        }),
      ),
    rateLimit: z
      .object({
        burst: int()
          .min(1)
          .default(200)
          .meta(
            meta({
              description:
                "requests a connection may send at once (a user's devices together: twice it)",
            }),
          ),
        perSecond: z
          .number()
          .positive()
          .default(100)
          .meta(
            meta({
              description:
                "requests per second a connection may keep sending (a user's devices: twice it)",
            }),
          ),
      })
      .strict()
      // prefault: a partial object (one field set) still gets the other field's default.
      .prefault({})
      .meta(
        meta({
          description:
            "per connection; a user's devices together get twice it (across the cluster with redis); over it a request gets 6000005",
        }),
      ),
    overload: z
      .object({
        maxLoopDelayMs: int()
          .min(0)
          .max(60_000)
          .default(0)
          .meta(
            meta({
              description:
                "new invitations are refused while the event loop runs this late (ms), e.g. 50; 0: off (the default: on a shared machine it measures the machine, not the node)",
            }),
          ),
        maxPendingInvites: int()
          .min(0)
          .max(1_000_000)
          .default(1_000)
          .meta(
            meta({
              description:
                "new invitations are refused while this many are being handled at once; 0: off",
            }),
          ),
      })
      .strict()
      .prefault({})
      .meta(
        meta({
          description:
            "past either bound a node refuses new invitations at once with 6000020 (server busy, retryable); calls already ringing keep working",
        }),
      ),
    loginRateLimit: z
      .object({
        burst: int()
          .min(1)
          .default(200)
          .meta(meta({ description: "logins one user may make at once" })),
        perSecond: z
          .number()
          .positive()
          .default(20)
          .meta(meta({ description: "logins per second one user may keep making" })),
      })
      .strict()
      .prefault({})
      .meta(
        meta({
          description:
            "per user, counted once the token is verified (across the cluster with redis); over it a login gets 6000005",
        }),
      ),
    apiRateLimit: z
      .object({
        burst: int()
          .min(1)
          .default(500)
          .meta(meta({ description: "server API requests one key may send at once" })),
        perSecond: z
          .number()
          .positive()
          .default(250)
          .meta(meta({ description: "server API requests per second one key may keep sending" })),
      })
      .strict()
      .prefault({})
      .meta(
        meta({
          description:
            "per API key, or per user on login-token routes (across the cluster with redis); over it 429",
        }),
      ),
    webhookMaxPerSecond: int()
      .min(1)
      .max(100_000)
      .default(200)
      .meta(
        meta({
          description:
            "webhook attempts a node starts per second at most; faster events wait in the store (each attempt costs ~0.5 ms of the serving thread)",
        }),
      ),
    rateLimitTimeoutMs: int()
      .min(1)
      .max(10_000)
      .default(200)
      .meta(
        meta({
          description:
            "with redis: how long a request waits for the shared budgets before this node's own answer",
        }),
      ),
    devTokens: z
      .boolean()
      .default(false)
      .meta(
        meta({
          description:
            "serve POST /dev/token, which mints a token for anyone (the CLI: development mode without BECKON_SECRET)",
          cli: false,
        }),
      ),
    push: z
      .custom<PushSettings>((value) => typeof value === "object" && value !== null, {
        message: "must be an object (see docs/push.md)",
      })
      .optional()
      .meta(
        meta({
          description:
            "offline push providers: webPush {subject}, fcm, apns, http; vapidDir keeps the Web Push keys (docs/push.md)",
          cli: false,
        }),
      ),
    staticDir: z
      .string()
      .min(1)
      .optional()
      .meta(
        meta({
          description: "a folder served at / (the CLI serves the built demo)",
          cli: false,
        }),
      ),
    consoleDir: z
      .string()
      .min(1)
      .optional()
      .meta(
        meta({
          description:
            "the built operator console, served at /console (default: apps/console/dist when built)",
          cli: false,
        }),
      ),
    logLevel: z
      .enum(logLevels)
      .default("info")
      .meta(meta({ description: "pino level; silent turns logging off" })),
    logFormat: z
      .enum(logFormats)
      .default("auto")
      .meta(
        meta({
          description: "pretty lines or JSON; auto is pretty when stdout is a terminal, else JSON",
        }),
      ),
  })
  .strict();

/** What `createServer` accepts: `secret` and any of the rest. */
export type ServerOptions = z.input<typeof serverOptionsSchema>;

export type ResolvedOptions = z.output<typeof serverOptionsSchema> & {
  /** `maxTokenLifetimeSeconds` in ms, for code that compares with `Date.now()`. */
  maxTokenLifetimeMs: number;
};

/** One problem with the given options, named by the option's path (e.g. `rateLimit.burst`). */
export interface OptionIssue {
  path: string;
  message: string;
}

export class InvalidOptionsError extends Error {
  constructor(
    readonly issues: OptionIssue[],
    context = "createServer",
  ) {
    super(
      `${context}: invalid options\n${issues.map((i) => `  - ${i.path || "(options)"}: ${i.message}`).join("\n")}`,
    );
    this.name = "InvalidOptionsError";
  }
}

/** Plain messages that name the allowed range and the value given (never the secret's). */
export function optionIssues(error: z.ZodError): OptionIssue[] {
  return error.issues.map((issue) => {
    const path = issue.path.join(".");
    const got =
      // An object is the parent of a missing or wrong key: the key's path says enough.
      /(^|\.)(secret|serverSecret|publicKey)$/.test(path) ||
      issue.input === undefined ||
      typeof issue.input === "object"
        ? ""
        : ` (got ${JSON.stringify(issue.input)})`;
    switch (issue.code) {
      case "unrecognized_keys":
        return { path, message: `unknown option(s) ${issue.keys.join(", ")}` };
      case "too_small":
        return {
          path,
          message: `must be ${issue.inclusive === false ? "greater than" : "at least"} ${issue.minimum}${issue.origin === "string" ? " characters" : ""}${got}`,
        };
      case "too_big":
        return {
          path,
          message: `must be ${issue.inclusive === false ? "less than" : "at most"} ${issue.maximum}${got}`,
        };
      case "invalid_type":
        return { path, message: `must be ${article(issue.expected)}${got}` };
      default:
        return { path, message: `${issue.message}${got}` };
    }
  });
}

const article = (type: string) =>
  type === "int" ? "an integer" : /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;

export function resolveOptions(options: ServerOptions): ResolvedOptions {
  const parsed = serverOptionsSchema.safeParse(options, { reportInput: true });
  if (!parsed.success) throw new InvalidOptionsError(optionIssues(parsed.error));
  return { ...parsed.data, maxTokenLifetimeMs: parsed.data.maxTokenLifetimeSeconds * 1000 };
}

/** One leaf option, as the CLI and docs/configuration.md present it. */
export interface OptionDescription {
  /** The option's path in `createServer`'s options, e.g. `rateLimit.burst`. */
  key: string;
  flag: string;
  env: string;
  type: "integer" | "number" | "string" | "boolean" | "enum";
  choices?: readonly string[];
  default: unknown;
  cliDefault: unknown;
  min?: number;
  max?: number;
  description: string;
  cli: boolean;
}

/** `rateLimit.perSecond` → `rate-limit-per-second`; an initialism is one word (`keyID` → `key-id`). */
const kebab = (path: string[]) =>
  path
    .map((part) =>
      part.replace(
        /([a-z0-9])([A-Z]+)/g,
        (_, before: string, upper: string) => `${before}-${upper.toLowerCase()}`,
      ),
    )
    .join("-");

type Schema = z.core.$ZodType;

function unwrap(schema: Schema): { inner: Schema; defaultValue: unknown } {
  let inner = schema;
  let defaultValue: unknown;
  for (;;) {
    if (inner instanceof z.ZodDefault || inner instanceof z.ZodPrefault) {
      defaultValue ??= inner.def.defaultValue;
      inner = inner.def.innerType;
    } else if (inner instanceof z.ZodOptional) {
      inner = inner.def.innerType;
    } else {
      return { inner, defaultValue };
    }
  }
}

/** Walks the schema into one row per leaf option, nested objects flattened (`rateLimit.burst`). */
export function describeOptions(
  schema: z.ZodObject = serverOptionsSchema,
  prefix: string[] = [],
): OptionDescription[] {
  const rows: OptionDescription[] = [];
  for (const [name, field] of Object.entries(schema.shape)) {
    const path = [...prefix, name];
    const { inner, defaultValue: ownDefault } = unwrap(field);
    const info = (z.globalRegistry.get(field) ?? {}) as Partial<OptionMeta>;
    const defaultValue = ownDefault;
    if (inner instanceof z.ZodObject) {
      rows.push(...describeOptions(inner, path));
      continue;
    }
    const leaf = (z.globalRegistry.get(inner) ?? {}) as Partial<OptionMeta>;
    const row: OptionDescription = {
      key: path.join("."),
      flag: `--${kebab(path)}`,
      env: `BECKON_${kebab(path).replace(/-/g, "_").toUpperCase()}`,
      type: "string",
      default: defaultValue,
      cliDefault: info.cliDefault ?? defaultValue,
      description: info.description ?? leaf.description ?? "",
      cli: info.cli ?? true,
    };
    if (inner instanceof z.ZodNumber) {
      row.type = inner.format === "safeint" || inner.isInt ? "integer" : "number";
      if (Number.isFinite(inner.minValue)) row.min = inner.minValue ?? undefined;
      if (Number.isFinite(inner.maxValue) && (inner.maxValue ?? 0) < Number.MAX_SAFE_INTEGER) {
        row.max = inner.maxValue ?? undefined;
      }
    } else if (inner instanceof z.ZodBoolean) {
      row.type = "boolean";
    } else if (inner instanceof z.ZodEnum) {
      row.type = "enum";
      row.choices = inner.options.map(String);
    }
    rows.push(row);
  }
  return rows;
}
