/** Shared helpers for the integration suites: real services from the harness, Nova in-process or as processes. */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DescService } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import type { Envelope } from "../src/platform/events/envelope.ts";
import { createTransport, serviceClient } from "../src/platform/rpc/client.ts";
import { type CallContext, runWithCall } from "../src/platform/rpc/context.ts";
import type { ServiceRegistration } from "../src/platform/rpc/server.ts";
import { uuidv7 } from "../src/platform/validate.ts";
import { type Nova, startNova } from "../src/runtime/app.ts";
import { loadConfig } from "../src/runtime/config.ts";
import { type ModuleName, providerOf, resolveTargets } from "../src/runtime/modules.ts";

export const ROOT = new URL("..", import.meta.url).pathname;

export interface ServiceUrls {
  postgres: string;
  replica: string;
  pgbouncer: string;
  redis: string;
  kafka: string;
  /** SeaweedFS's S3 API (path-style) and the key pair the harness generated for it */
  s3: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string };
  /** Mailpit's HTTP API base (read mail with test/mailpit.ts) */
  mailpit: string;
  /** Mailpit's SMTP URL (SMTP_URL) */
  smtp: string;
}

let cached: Promise<ServiceUrls> | undefined;
/** The real services (started by `npm test`; started here when a file is run alone). Never skipped. */
export function services(): Promise<ServiceUrls> {
  cached ??= process.env.NOVA_TEST_SERVICES
    ? Promise.resolve(JSON.parse(process.env.NOVA_TEST_SERVICES) as ServiceUrls)
    : import("../scripts/services.ts").then((m) => m.ensureServices() as Promise<ServiceUrls>);
  return cached;
}

export function unique(prefix: string): string {
  return `${prefix}_${randomBytes(6).toString("hex")}`.slice(0, 30);
}

export function tempDir(prefix = "nova-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Every module in this process (the embedded topology), on the harness's PostgreSQL. */
export async function startInProcess(
  env: NodeJS.ProcessEnv = {},
  opts: { clock?: () => number } = {},
): Promise<{ nova: Nova; url: string }> {
  const s = await services();
  const config = loadConfig({
    DATABASE_URL: s.postgres,
    PORT: "0",
    ADMIN_PORT: "0",
    NOVA_DATA_DIR: tempDir(),
    LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
    // Every suite talks from 127.0.0.1: the per-IP budgets are off unless a test sets them (gateway-security does).
    GATEWAY_RATE_IP_QUERIES: "0",
    GATEWAY_RATE_IP_MUTATIONS: "0",
    // The suites run many processes on few cores, so the loop stalls now and then; shedding on event-loop
    // delay is tested on its own (src/gateway/server.test.ts).
    GATEWAY_MAX_EVENT_LOOP_DELAY_MS: "0",
    ...env,
  });
  const nova = await startNova({ mode: "embedded", targets: resolveTargets(["all"]), config, clock: opts.clock });
  const address = nova.instances.get("gateway")?.address;
  if (!address) throw new Error("gateway did not start");
  return { nova, url: `${address}/graphql` };
}

export interface ClientAsOptions {
  /** The calling module (default the gateway, as for a user's request). */
  caller?: ModuleName;
  /** The session of the user's claims (default "s"; identity's tests use the token's). */
  sessionId?: string;
  /** The user's admin role (may moderate others' content). */
  admin?: boolean;
  /** The user's moderator role (works the moderation queue). */
  moderator?: boolean;
  /** The client's default deadline per call (default 10 s). */
  timeoutMs?: number;
}

/**
 * A client of `service` served in this process, whose every call runs as end user `userId` (no user when
 * undefined), as if the gateway made it for that user's request. `from` is a running Nova (the service's
 * module must run in it) or the service registrations of a service built by the test.
 */
export function clientAs<S extends DescService>(
  from: Nova | ServiceRegistration[],
  service: S,
  userId?: string,
  opts: ClientAsOptions = {},
): Client<S> {
  const target = providerOf(service.typeName);
  if (!target) throw new Error(`no module provides ${service.typeName}`);
  const services = Array.isArray(from) ? from : (from.instances.get(target)?.services ?? []);
  const transport = createTransport({ caller: opts.caller ?? "gateway", target, peer: { kind: "local", services } });
  const client = serviceClient(service, transport, opts.timeoutMs ?? 10_000);
  if (userId === undefined) return client;
  const call: CallContext = {
    user: {
      userId,
      sessionId: opts.sessionId ?? "s",
      ...(opts.admin ? { admin: true } : {}),
      ...(opts.moderator ? { moderator: true } : {}),
    },
  };
  return new Proxy(client, {
    get(target, prop) {
      const fn = Reflect.get(target, prop) as unknown;
      if (typeof fn !== "function") return fn;
      return (...args: unknown[]) => runWithCall(call, () => fn(...args));
    },
  });
}

export interface GqlResult {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: test convenience
  body: any;
}

export async function gql(
  url: string,
  query: string,
  opts: { variables?: Record<string, unknown>; token?: string; headers?: Record<string, string> } = {},
): Promise<GqlResult> {
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...opts.headers,
    },
    body: JSON.stringify({ query, variables: opts.variables }),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, body };
}

export const REGISTER = `mutation($input: RegisterInput!) {
  register(input: $input) { accessToken refreshToken expiresIn user { id username email } }
}`;

export async function register(url: string, username = unique("u")) {
  const r = await gql(url, REGISTER, {
    variables: { input: { email: `${username}@example.com`, username, password: "correct horse battery" } },
  });
  if (!r.body?.data?.register) throw new Error(`register failed: ${JSON.stringify(r.body)}`);
  return r.body.data.register as { accessToken: string; refreshToken: string; user: { id: string; username: string } };
}

export interface NovaProcess {
  child: ChildProcess;
  output(): string;
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
}

/** Runs `nova <args>` as a separate process. */
export function spawnNova(args: string[], env: NodeJS.ProcessEnv): NovaProcess {
  return spawnNode([join(ROOT, "bin/nova.mjs"), ...args], env);
}

/** Runs a TypeScript file (e.g. a test fixture) as a separate process. */
export function spawnScript(path: string, env: NodeJS.ProcessEnv): NovaProcess {
  return spawnNode(["--import", "tsx", path], env);
}

function spawnNode(argv: string[], env: NodeJS.ProcessEnv): NovaProcess {
  const args = argv.slice(-1);
  const child = spawn(process.execPath, argv, {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const waiters = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const w of waiters) w();
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => {
      for (const w of waiters) w();
      resolve({ code, signal });
    }),
  );
  return {
    child,
    output: () => out,
    exited,
    kill: (signal = "SIGTERM") => child.kill(signal),
    waitFor(re, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = out.match(re);
          if (m) {
            cleanup();
            resolve(m);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            cleanup();
            reject(new Error(`nova ${args.join(" ")} exited before ${re}:\n${out.slice(-3000)}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${re}:\n${out.slice(-3000)}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}

export { metricValue } from "../scripts/lib/metrics.ts";

export interface Subscription<T> {
  /** The next value (rejects after `timeoutMs`). */
  next(timeoutMs?: number): Promise<T>;
  /** Values received and not yet taken. */
  readonly buffered: T[];
  /** Resolves with the close event once the socket closes. */
  closed: Promise<{ code: number; reason: string }>;
  /** Errors the server sent for the operation. */
  errors: Promise<unknown[]>;
  close(): Promise<void>;
}

/** A real graphql-ws client over a WebSocket on the gateway's /graphql path. */
export async function subscribe<T = unknown>(
  url: string,
  token: string | undefined,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<Subscription<T>> {
  const { createClient } = await import("graphql-ws");
  const { default: WebSocket } = await import("ws");
  const buffered: T[] = [];
  const waiters: ((v: T) => void)[] = [];
  let onClosed!: (e: { code: number; reason: string }) => void;
  const closed = new Promise<{ code: number; reason: string }>((r) => {
    onClosed = r;
  });
  let onErrors!: (e: unknown[]) => void;
  const errors = new Promise<unknown[]>((r) => {
    onErrors = r;
  });
  const client = createClient({
    url: url.replace(/^http/, "ws"),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
    onNonLazyError: () => undefined,
    connectionParams: token === undefined ? {} : { authorization: `Bearer ${token}` },
    on: {
      closed: (e) => {
        const c = e as { code: number; reason: unknown };
        onClosed({ code: c.code, reason: String(c.reason) });
      },
    },
  });
  client.subscribe<T>(
    { query, variables },
    {
      next: (r) => {
        if (r.errors) return onErrors([...r.errors]);
        const v = r.data as T;
        const w = waiters.shift();
        if (w) w(v);
        else buffered.push(v);
      },
      error: (e) => onErrors(Array.isArray(e) ? e : [e]),
      complete: () => undefined,
    },
  );
  return {
    buffered,
    closed,
    errors,
    next(timeoutMs = 15_000) {
      const v = buffered.shift();
      if (v !== undefined) return Promise.resolve(v);
      return new Promise<T>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no subscription value in ${timeoutMs} ms`)), timeoutMs);
        waiters.push((x) => {
          clearTimeout(t);
          resolve(x);
        });
      });
    },
    async close() {
      await client.dispose();
    },
  };
}

/** An event envelope as the outbox writes it (fresh id, now), for feeding consumers in tests. */
export function eventEnvelope(
  type: string,
  aggregateType: string,
  aggregateId: string,
  payload: Record<string, unknown>,
): Envelope {
  return {
    id: uuidv7(),
    type,
    aggregate_type: aggregateType,
    aggregate_id: aggregateId,
    occurred_at: new Date().toISOString(),
    actor_id: null,
    schema_version: 1,
    traceparent: null,
    payload,
  };
}
