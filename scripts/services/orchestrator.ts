// The six services together: created from nothing, checked, repaired and
// stopped in dependency order (the replica and PgBouncer need the primary;
// Redis, Kafka and the S3 store start alongside it).

import { mkdirSync, rmSync } from "node:fs";
import { freePorts, log, processAlive, sleep, stopProcess, tailFile } from "../lib/proc.ts";
import { formatKafka, kafka, kafkaClusterId } from "./kafka.ts";
import { mailpit, mailpitSmtpUrl } from "./mailpit.ts";
import { pgbouncer } from "./pgbouncer.ts";
import { asSuperuser, initPrimary, pgRootFor, postgres, setupPrimary } from "./postgres.ts";
import { redis } from "./redis.ts";
import { makeReplica, replica } from "./replica.ts";
import { S3_INTERNAL_PORTS, s3, s3Access, s3Credentials } from "./s3.ts";
import {
  fileSize,
  type Service,
  type ServiceName,
  type ServiceUrls,
  type State,
  stateDir,
  type Tools,
  writeState,
} from "./shared.ts";

export const SERVICE: Record<ServiceName, Service> = { postgres, replica, pgbouncer, redis, kafka, s3, mailpit };

export function urlsOf(s: State): ServiceUrls {
  return {
    postgres: postgres.url(s),
    replica: replica.url(s),
    pgbouncer: pgbouncer.url(s),
    redis: redis.url(s),
    kafka: kafka.url(s),
    s3: s3Access(s),
    mailpit: mailpit.url(s),
    smtp: mailpitSmtpUrl(s),
  };
}

/** A new state folder on free ports, every service initialised and started; on failure, nothing left running. */
export async function create(t: Tools): Promise<State> {
  const dir = stateDir();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const ports = await freePorts(9 + S3_INTERNAL_PORTS);
  const [postgres, replica, pgbouncer, redis, kafka, kafkaController, s3Port, mailpitHttp, mailpitSmtp] = ports as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const { pgRoot, external } = pgRootFor(dir, t.runAs);
  const s: State = {
    version: 1,
    createdAt: new Date().toISOString(),
    stateDir: dir,
    pgRoot,
    pgRootExternal: external,
    pgUser: t.runAs?.user ?? null,
    kafkaVersion: t.kafkaVersion,
    kafkaClusterId: kafkaClusterId(),
    ports: {
      postgres,
      replica,
      pgbouncer,
      redis,
      kafka,
      kafkaController,
      s3: s3Port,
      s3Internal: ports.slice(9),
      mailpit: mailpitHttp,
      mailpitSmtp,
    },
    s3: s3Credentials(),
    pids: {},
  };
  writeState(s);
  log(`creating services in ${dir}`);
  const results = await Promise.allSettled([
    (async () => {
      await initPrimary(s, t);
      // before the roles exist: superuser over the unix socket
      await launch(s, t, "postgres", async (st) => {
        await asSuperuser(st, st.ports.postgres, (c) => c.query("SELECT 1"));
      });
      await setupPrimary(s);
      await Promise.all([
        (async () => {
          await makeReplica(s, t);
          await launch(s, t, "replica");
        })(),
        launch(s, t, "pgbouncer"),
      ]);
    })(),
    launch(s, t, "redis"),
    launch(s, t, "mailpit"),
    (async () => {
      await formatKafka(s, t);
      await launch(s, t, "kafka");
    })(),
    launch(s, t, "s3"),
  ]);
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed.length > 0) {
    const message = failed.map((f) => (f.reason as Error).message).join("\n");
    log("start-up failed; stopping what was started");
    await teardown(s);
    throw new Error(message);
  }
  writeState(s);
  return s;
}

export type Health = { alive: boolean; ok: boolean; error?: string };

export async function health(s: State): Promise<Record<ServiceName, Health>> {
  const check = async (name: ServiceName): Promise<[ServiceName, Health]> => {
    const svc = SERVICE[name];
    const alive = processAlive(s.pids[name], svc.match);
    if (!alive) return [name, { alive, ok: false, error: "not running" }];
    try {
      await svc.probe(s);
      return [name, { alive, ok: true }];
    } catch (e) {
      return [name, { alive, ok: false, error: (e as Error).message }];
    }
  };
  const [primary, others] = await Promise.all([
    check("postgres"),
    Promise.all(["redis", "kafka", "s3", "mailpit"].map((n) => check(n as ServiceName))),
  ]);
  // The replica and PgBouncer hang on a dead primary (PgBouncer queues the
  // client): only probe them when the primary answers.
  const dependants: [ServiceName, Health][] = primary[1].ok
    ? await Promise.all([check("replica"), check("pgbouncer")])
    : (["replica", "pgbouncer"] as const).map((n) => [
        n,
        { alive: processAlive(s.pids[n], SERVICE[n].match), ok: false, error: "primary is down" },
      ]);
  return Object.fromEntries([primary, ...others, ...dependants]) as Record<ServiceName, Health>;
}

/** Brings back the parts that are dead or not answering, keeping their data. */
export async function repair(s: State, h: Record<ServiceName, Health>, t: Tools): Promise<void> {
  const fix = async (name: ServiceName) => {
    const svc = SERVICE[name];
    const now = h[name];
    if (now.ok) return;
    if (now.alive) {
      // running but not answering: give it a moment (e.g. a replica reconnecting)
      try {
        await waitReady(s, svc, 0, 15_000);
        return;
      } catch {
        log(`${name}: not answering (${now.error}); restarting it`);
        await stopOne(s, name);
      }
    } else log(`${name}: not running; restarting it`);
    await launch(s, t, name);
  };
  const results = await Promise.allSettled([
    (async () => {
      await fix("postgres");
      if (!h.postgres.ok) {
        // a restarted primary: the replica reconnects by itself, re-check both
        h.replica = { alive: processAlive(s.pids.replica, "postgres"), ok: false };
        h.pgbouncer = { alive: processAlive(s.pids.pgbouncer, "pgbouncer"), ok: false };
      }
      await Promise.all([fix("replica"), fix("pgbouncer")]);
    })(),
    fix("redis"),
    fix("kafka"),
    fix("s3"),
    (async () => {
      if (!s.ports.mailpit || !s.ports.mailpitSmtp) {
        // a state from before Mailpit joined the harness
        const [http, smtp] = (await freePorts(2)) as [number, number];
        s.ports.mailpit = http;
        s.ports.mailpitSmtp = smtp;
      }
      await fix("mailpit");
    })(),
  ]);
  writeState(s);
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed.length > 0) throw new Error(failed.map((f) => (f.reason as Error).message).join("\n"));
}

/** Starts a service and waits until it answers. */
export async function launch(
  s: State,
  t: Tools,
  name: ServiceName,
  probe?: (s: State) => Promise<void>,
): Promise<void> {
  const svc = SERVICE[name];
  const offset = fileSize(svc.logFile(s));
  log(`${name}: starting on 127.0.0.1:${s.ports[name]}`);
  s.pids[name] = svc.start(s, t);
  writeState(s);
  await waitReady(s, svc, offset, svc.timeoutMs, probe);
  log(`${name}: ready (pid ${s.pids[name]})`);
}

async function waitReady(
  s: State,
  svc: Service,
  logOffset: number,
  timeoutMs = svc.timeoutMs,
  probe: (s: State) => Promise<void> = svc.probe,
) {
  const deadline = Date.now() + timeoutMs;
  let last = "not checked";
  for (;;) {
    try {
      await probe(s);
      svc.started?.(s, logOffset);
      return;
    } catch (e) {
      last = (e as Error).message;
    }
    if (!processAlive(s.pids[svc.name], svc.match))
      throw serviceError(s, svc, `process exited before it was ready (last check: ${last})`);
    if (Date.now() > deadline) throw serviceError(s, svc, `not ready after ${Math.round(timeoutMs / 1000)}s: ${last}`);
    await sleep(250);
  }
}

function serviceError(s: State, svc: Service, message: string): Error {
  const files = [svc.logFile(s)];
  if (svc.stdoutLog) files.push(svc.stdoutLog(s));
  const tails = files.map((f) => `--- last lines of ${f} ---\n${tailFile(f, 40)}`).join("\n");
  return new Error(`${svc.name}: ${message}\n${tails}`);
}

export async function stopOne(s: State, name: ServiceName): Promise<void> {
  const svc = SERVICE[name];
  await stopProcess(s.pids[name], svc.signal, 15_000, svc.match);
  delete s.pids[name];
  svc.stopped?.(s);
}

/** Stops every service, the primary last, and removes the state folder. */
export async function teardown(s: State): Promise<void> {
  await Promise.all((["pgbouncer", "replica", "redis", "kafka", "s3", "mailpit"] as const).map((n) => stopOne(s, n)));
  await stopOne(s, "postgres");
  rmSync(s.stateDir, { recursive: true, force: true });
  if (s.pgRootExternal) rmSync(s.pgRoot, { recursive: true, force: true });
}
