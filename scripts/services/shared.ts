// What every part of the services harness shares: the names and URLs of the
// services, the state recorded in <stateDir>/state.json, the tools a service
// starts with, the shape of one service, the lock that lets one command run
// at a time, and files written for the unprivileged PostgreSQL user.

import {
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { log, processAlive, type RunAs, sleep } from "../lib/proc.ts";

/** An S3 endpoint and the one key pair the harness generated for it (path-style addressing). */
export type S3Access = {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
};

export type ServiceUrls = {
  postgres: string;
  replica: string;
  pgbouncer: string;
  redis: string;
  kafka: string;
  s3: S3Access;
  /** Mailpit's HTTP API base (its SMTP URL is `smtp`) */
  mailpit: string;
  smtp: string;
};

export type ServiceName = Exclude<keyof ServiceUrls, "smtp">;
export const SERVICES: ServiceName[] = ["postgres", "replica", "pgbouncer", "redis", "kafka", "s3", "mailpit"];

export type State = {
  version: 1;
  createdAt: string;
  stateDir: string;
  /** data dirs, sockets, PgBouncer files: owned by pgUser (maybe outside stateDir, see pgRootFor) */
  pgRoot: string;
  pgRootExternal: boolean;
  pgUser: string | null;
  kafkaVersion: string;
  kafkaClusterId: string;
  ports: {
    postgres: number;
    replica: number;
    pgbouncer: number;
    redis: number;
    kafka: number;
    kafkaController: number;
    /** the S3 API; SeaweedFS's master, volume server and filer (HTTP and gRPC each) listen on the others */
    s3: number;
    s3Internal?: number[];
    /** Mailpit's HTTP API and SMTP ports (absent in a state written before Mailpit joined: given on repair) */
    mailpit?: number;
    mailpitSmtp?: number;
  };
  /** the S3 key pair, generated when the state is created (absent in states made before S3 was added) */
  s3?: { accessKeyId: string; secretAccessKey: string };
  pids: Partial<Record<ServiceName, number>>;
};

export type Tools = {
  pgBin: string;
  redisServer: string;
  pgbouncer: string;
  java: string;
  kafkaLibs: string;
  kafkaVersion: string;
  weed: string;
  mailpit: string;
  runAs: RunAs | null;
};

export type Service = {
  name: ServiceName;
  url: (s: State) => string;
  /** substring of the process command line, to tell our process from a reused pid */
  match: string;
  /** SIGINT is PostgreSQL's fast shutdown (SIGTERM waits for every client to leave) */
  signal: NodeJS.Signals;
  logFile: (s: State) => string;
  /** the process's own stdout and stderr, when logFile is another file; shown too when it fails */
  stdoutLog?: (s: State) => string;
  start: (s: State, t: Tools) => number;
  /** answers like a healthy instance (fast) */
  probe: (s: State) => Promise<void>;
  /** removes what the process leaves outside the state folder once it is stopped */
  stopped?: (s: State) => void;
  /** extra condition after (re)start, given the log size before it */
  started?: (s: State, logOffset: number) => void;
  timeoutMs: number;
};

// ------------------------------------------------------------------ state

export function stateDir(): string {
  return resolve(process.env.NOVA_SERVICES_DIR || join(homedir(), ".cache/nova/services"));
}

export function readState(): State | null {
  const file = stateFile(stateDir());
  if (!existsSync(file)) return null;
  try {
    const s = JSON.parse(readFileSync(file, "utf8")) as State;
    return s.version === 1 ? s : null;
  } catch {
    return null;
  }
}

export function writeState(s: State): void {
  const file = stateFile(s.stateDir);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(s, null, 2)}\n`);
  renameSync(tmp, file);
}

function stateFile(dir: string): string {
  return join(dir, "state.json");
}

// ------------------------------------------------------------------ locking

/** One `up`/`down` at a time across processes (parallel test files call ensureServices). */
export async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  const dir = stateDir();
  mkdirSync(dirname(dir), { recursive: true });
  const lock = `${dir}.lock`;
  const deadline = Date.now() + 10 * 60_000;
  let told = false;
  for (;;) {
    try {
      const fd = openSync(lock, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    let holder = 0;
    let age = 0;
    try {
      holder = Number(readFileSync(lock, "utf8").trim());
      age = Date.now() - statSync(lock).mtimeMs;
    } catch {
      continue; // released meanwhile
    }
    if (holder ? !processAlive(holder) : age > 5000) {
      try {
        if (Number(readFileSync(lock, "utf8").trim()) === holder) unlinkSync(lock);
      } catch {
        // someone else cleaned it
      }
      continue;
    }
    if (Date.now() > deadline) throw new Error(`services: lock ${lock} held by pid ${holder} for too long`);
    if (!told) {
      log(`waiting for another services command (pid ${holder})`);
      told = true;
    }
    await sleep(200);
  }
  try {
    return await fn();
  } finally {
    try {
      if (Number(readFileSync(lock, "utf8").trim()) === process.pid) unlinkSync(lock);
    } catch {
      // already gone
    }
  }
}

// ------------------------------------------------------------------ files

export function mkdirOwned(path: string, as: RunAs | null, mode = 0o700): void {
  mkdirSync(path, { recursive: true, mode });
  if (as) chownSync(path, as.uid, as.gid);
}

export function writeOwned(path: string, text: string, as: RunAs | null, mode = 0o600): void {
  writeFileSync(path, text, { mode });
  if (as) chownSync(path, as.uid, as.gid);
}

export function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

export function logSince(path: string, offset: number): string {
  try {
    const buf = readFileSync(path);
    // rolled over since: the whole (new) file is recent
    return buf.subarray(buf.length < offset ? 0 : offset).toString("utf8");
  } catch {
    return "";
  }
}
