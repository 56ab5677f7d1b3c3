// Redis on 127.0.0.1 without persistence (no RDB snapshots, no append-only file).

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { redisPing, spawnDetached } from "../lib/proc.ts";
import type { Service, State, Tools } from "./shared.ts";

export const redis: Service = {
  name: "redis",
  url: (s) => `redis://127.0.0.1:${s.ports.redis}`,
  match: "redis-server",
  signal: "SIGTERM",
  logFile: (s) => redisPaths(s).log,
  start: startRedis,
  probe: (s) => redisPing(s.ports.redis),
  timeoutMs: 30_000,
};

function startRedis(s: State, t: Tools): number {
  const r = redisPaths(s);
  mkdirSync(r.dir, { recursive: true });
  writeFileSync(
    r.conf,
    [
      "# nova services harness (scripts/services.ts): no persistence",
      "bind 127.0.0.1",
      `port ${s.ports.redis}`,
      "protected-mode no",
      "daemonize no",
      'save ""',
      "appendonly no",
      `dir ${r.dir}`,
      'logfile ""',
      "",
    ].join("\n"),
  );
  return spawnDetached(t.redisServer, [r.conf], { logFile: r.log, cwd: r.dir });
}

function redisPaths(s: State) {
  return {
    dir: join(s.stateDir, "redis"),
    conf: join(s.stateDir, "redis", "redis.conf"),
    log: join(s.stateDir, "redis", "redis.log"),
  };
}
