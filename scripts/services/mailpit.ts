// Mailpit (MIT, github.com/axllent/mailpit), the SMTP server the tests send
// mail to: SMTP and its HTTP API (messages list, message by id) on loopback,
// messages kept in a SQLite file under the state folder. Built by
// scripts/mailpit into the tool cache.

import { existsSync, mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { spawnDetached } from "../lib/proc.ts";
import type { Service, State, Tools } from "./shared.ts";

export const mailpit: Service = {
  name: "mailpit",
  url: (s) => `http://127.0.0.1:${s.ports.mailpit}`,
  match: "mailpit",
  signal: "SIGTERM",
  logFile: (s) => mailpitPaths(s).log,
  start: startMailpit,
  probe: probeMailpit,
  timeoutMs: 30_000,
};

/** The SMTP URL the harness's Mailpit accepts mail on (no TLS, no auth: loopback only). */
export function mailpitSmtpUrl(s: State): string {
  return `smtp://127.0.0.1:${s.ports.mailpitSmtp}`;
}

/** Where scripts/mailpit installs the binary; null when it is not there. */
export function mailpitBinary(): string | null {
  const bin = join(resolve(process.env.NOVA_CACHE_DIR || join(homedir(), ".cache/nova")), "bin", "mailpit");
  return existsSync(bin) ? bin : null;
}

function startMailpit(s: State, t: Tools): number {
  const p = mailpitPaths(s);
  mkdirSync(p.dir, { recursive: true });
  return spawnDetached(
    t.mailpit,
    [
      "--listen",
      `127.0.0.1:${s.ports.mailpit}`,
      "--smtp",
      `127.0.0.1:${s.ports.mailpitSmtp}`,
      "--smtp-auth-accept-any",
      "--smtp-auth-allow-insecure",
      "--database",
      p.db,
      "--max",
      "5000",
      "--disable-version-check",
      "--quiet",
    ],
    { logFile: p.log, cwd: p.dir },
  );
}

async function probeMailpit(s: State): Promise<void> {
  if (!s.ports.mailpit || !s.ports.mailpitSmtp) throw new Error("no ports recorded");
  const res = await fetch(`http://127.0.0.1:${s.ports.mailpit}/api/v1/info`, { signal: AbortSignal.timeout(2_000) });
  if (!res.ok) throw new Error(`GET /api/v1/info: ${res.status}`);
  await res.body?.cancel();
}

function mailpitPaths(s: State) {
  const dir = join(s.stateDir, "mailpit");
  return { dir, db: join(dir, "mailpit.db"), log: join(dir, "mailpit.log") };
}
