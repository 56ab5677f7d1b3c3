// Process, file and network helpers for scripts/services.ts (node built-ins only).
import { type SpawnOptions, spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, statSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { delimiter, join } from "node:path";

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function log(message: string): void {
  if (process.env.NOVA_SERVICES_QUIET === "1") return;
  process.stderr.write(`services: ${message}\n`);
}

/** A user to run a child process as (root drops to it for PostgreSQL/PgBouncer). */
export type RunAs = { user: string; uid: number; gid: number; home: string };

export function lookupUser(name: string): RunAs | null {
  const r = spawnSync("getent", ["passwd", name], { encoding: "utf8" });
  if (r.status !== 0 || !r.stdout) return null;
  const f = r.stdout.trim().split(":");
  if (f.length < 7) return null;
  return {
    user: name,
    uid: Number(f[2]),
    gid: Number(f[3]),
    home: f[5] ?? "/",
  };
}

/** Finds an executable on PATH or in the usual bin/sbin folders. */
export function findExecutable(name: string): string | null {
  const dirs = [
    ...(process.env.PATH ?? "").split(delimiter),
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
  ];
  for (const dir of dirs) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      if (statSync(p).isFile() && isExecutable(p)) return p;
    } catch {
      // not here
    }
  }
  return null;
}

function isExecutable(path: string): boolean {
  try {
    return (statSync(path).mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** True if `as` can reach (search/read) `path`; always true when not dropping privileges. */
export function accessibleAs(path: string, as: RunAs | null, flag = "-x"): boolean {
  if (!as) return true;
  const r = spawnSync("test", [flag, path], { uid: as.uid, gid: as.gid });
  return r.status === 0;
}

/** Linux process state: alive (and not a zombie) and, if given, its command line contains `match`. */
export function processAlive(pid: number | undefined, match?: string): boolean {
  if (!pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (state === "Z" || state === "X") return false;
    if (match) {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
      if (!cmd.includes(match)) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts a long-running process detached from us (own session and process
 * group), stdout/stderr appended to `logFile`, so it outlives this process.
 */
export function spawnDetached(
  cmd: string,
  args: string[],
  opts: { logFile: string; cwd?: string; env?: NodeJS.ProcessEnv; as?: RunAs | null },
): number {
  const fd = openSync(opts.logFile, "a");
  try {
    const o: SpawnOptions = {
      detached: true,
      stdio: ["ignore", fd, fd],
      cwd: opts.cwd,
      env: opts.env ?? process.env,
    };
    if (opts.as) {
      o.uid = opts.as.uid;
      o.gid = opts.as.gid;
    }
    const child = spawn(cmd, args, o);
    child.on("error", () => {
      // reported by the readiness check (the pid will be dead)
    });
    child.unref();
    if (!child.pid) throw new Error(`could not start ${cmd}`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** Runs a command to completion; throws with its output on failure. */
export function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; as?: RunAs | null; timeoutMs?: number } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const o: SpawnOptions = {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    };
    if (opts.as) {
      o.uid = opts.as.uid;
      o.gid = opts.as.gid;
    }
    const child = spawn(cmd, args, o);
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(" ")} failed (${signal ?? `exit ${code}`}):\n${tail(out, 30)}`));
    });
  });
}

/**
 * Stops a process (and its process group): `signal` first, SIGKILL to the
 * whole group after `graceMs`. Resolves once it is gone.
 */
export async function stopProcess(
  pid: number | undefined,
  signal: NodeJS.Signals,
  graceMs: number,
  match?: string,
): Promise<void> {
  if (!pid || !processAlive(pid, match)) return;
  try {
    process.kill(pid, signal);
    process.kill(pid, "SIGCONT"); // a stopped process would never see the signal
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!processAlive(pid)) break;
    await sleep(100);
  }
  // Kill whatever is left of its process group (it leads one: spawned detached).
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // group already gone
  }
  const hard = Date.now() + 5000;
  while (Date.now() < hard && processAlive(pid)) await sleep(50);
}

export function tail(text: string, lines: number): string {
  const all = text.trimEnd().split("\n");
  return all.slice(-lines).join("\n");
}

export function tailFile(path: string, lines = 40): string {
  try {
    if (!existsSync(path)) return `(no log at ${path})`;
    const buf = readFileSync(path);
    const text = buf.subarray(Math.max(0, buf.length - 64 * 1024)).toString("utf8");
    return tail(text, lines);
  } catch (e) {
    return `(could not read ${path}: ${(e as Error).message})`;
  }
}

/** Asks the kernel for `count` distinct free TCP ports on 127.0.0.1. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = [];
  const ports: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const srv = createServer();
      servers.push(srv);
      await new Promise<void>((resolve, reject) => {
        srv.once("error", reject);
        srv.listen(0, "127.0.0.1", () => resolve());
      });
      const addr = srv.address();
      if (!addr || typeof addr === "string") throw new Error("no port");
      ports.push(addr.port);
    }
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
  return ports;
}

/** Opens a TCP connection, writes `request`, collects bytes until `done(buf)` or timeout. */
function tcpExchange(
  port: number,
  request: Buffer,
  done: (buf: Buffer) => boolean,
  timeoutMs: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = new Socket();
    let buf = Buffer.alloc(0);
    let settled = false;
    const finish = (err: Error | null) => {
      if (settled) return;
      settled = true;
      sock.destroy();
      if (err) reject(err);
      else resolve(buf);
    };
    sock.setTimeout(timeoutMs, () => finish(new Error(`timeout on 127.0.0.1:${port}`)));
    sock.on("error", (e) => finish(e));
    sock.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (done(buf)) finish(null);
    });
    sock.on("close", () => finish(new Error(`connection to 127.0.0.1:${port} closed`)));
    sock.connect(port, "127.0.0.1", () => sock.write(request));
  });
}

/** Redis: PING over RESP must answer +PONG. */
export async function redisPing(port: number, timeoutMs = 2000): Promise<void> {
  const res = await tcpExchange(port, Buffer.from("*1\r\n$4\r\nPING\r\n"), (b) => b.includes("\r\n"), timeoutMs);
  const line = res.toString("utf8").trim();
  if (line !== "+PONG") throw new Error(`redis answered ${JSON.stringify(line)}`);
}

/**
 * Kafka: an ApiVersions v0 request must come back with error_code 0 and a
 * non-empty list of APIs (the broker's request plane is up).
 */
export async function kafkaApiVersions(port: number, timeoutMs = 3000): Promise<number> {
  const clientId = Buffer.from("nova-services");
  const correlationId = 0x4e4f5641; // "NOVA"
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length);
  body.writeInt16BE(18, 0); // api_key ApiVersions
  body.writeInt16BE(0, 2); // api_version 0
  body.writeInt32BE(correlationId, 4);
  body.writeInt16BE(clientId.length, 8);
  clientId.copy(body, 10);
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length, 0);
  const res = await tcpExchange(
    port,
    Buffer.concat([size, body]),
    (b) => b.length >= 4 && b.length >= 4 + b.readInt32BE(0),
    timeoutMs,
  );
  if (res.readInt32BE(4) !== correlationId) throw new Error("kafka: wrong correlation id");
  const errorCode = res.readInt16BE(8);
  if (errorCode !== 0) throw new Error(`kafka ApiVersions error_code ${errorCode}`);
  const apis = res.readInt32BE(10);
  if (apis <= 0) throw new Error("kafka ApiVersions returned no APIs");
  return apis;
}
