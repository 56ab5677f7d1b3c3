/**
 * Builds the web client (web/ -> web/dist, Vite) when it is missing or older than its sources: the
 * client's files and the GraphQL operations it imports. `nova start` and the browser test call it;
 * the image builds it in the Dockerfile. Vite is a development dependency: without it (a production
 * install) the gateway runs without the client.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { OPERATIONS_DIR } from "../gateway/persisted.ts";
import { WEB_DIST } from "../gateway/web.ts";

const WEB = fileURLToPath(new URL("../../web/", import.meta.url));

function newest(dir: string, skip: Set<string>): number {
  let latest = 0;
  for (const name of readdirSync(dir)) {
    if (skip.has(name)) continue;
    const p = join(dir, name);
    const s = statSync(p);
    latest = Math.max(latest, s.isDirectory() ? newest(p, skip) : s.mtimeMs);
  }
  return latest;
}

/** True when web/dist is missing or older than a source. */
export function webClientStale(): boolean {
  const index = join(WEB_DIST, "index.html");
  if (!existsSync(index)) return true;
  const sources = Math.max(newest(WEB, new Set(["dist", "node_modules"])), newest(OPERATIONS_DIR, new Set()));
  return sources > statSync(index).mtimeMs;
}

/** Builds the client if needed; resolves with the build's milliseconds (0: up to date, -1: no Vite here). */
export async function ensureWebClient(log: (line: string) => void = () => {}): Promise<number> {
  if (!webClientStale()) return 0;
  let vite: string;
  try {
    vite = join(dirname(createRequire(import.meta.url).resolve("vite/package.json")), "bin", "vite.js");
  } catch {
    log("web client not built and Vite is not installed (npm install): serving the API only");
    return -1;
  }
  const started = Date.now();
  log("building the web client (web/ -> web/dist)…");
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [vite, "build", "--logLevel", "warn", WEB], { stdio: "inherit" });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`vite build exited with ${code}`))));
  });
  return Date.now() - started;
}
