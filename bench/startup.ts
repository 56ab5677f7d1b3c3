/**
 * Start-up of `nova start` (embedded) to the first GraphQL answer: cold (fresh
 * data folder: initdb + migrations) and warm (existing data), side by side.
 */
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../src/platform/db/embedded.ts";

const root = new URL("..", import.meta.url).pathname;

async function once(dataDir: string): Promise<number> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, [join(root, "bin/nova.mjs"), "start"], {
    env: { ...process.env, NOVA_DATA_DIR: dataDir, PORT: String(port), ADMIN_PORT: "0", LOG_LEVEL: "warn" },
    stdio: "ignore",
  });
  try {
    for (let i = 0; i < 1200; i++) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: '{"query":"{ __typename }"}',
        });
        if (res.status === 200) return performance.now() - t0;
      } catch {}
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error("nova start did not answer within 30 s");
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
  }
}

export async function run(quick: boolean): Promise<Record<string, unknown>> {
  const rounds = quick ? 1 : 3;
  const cold: number[] = [];
  const warm: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const dir = mkdtempSync(join(tmpdir(), "nova-bench-"));
    chmodSync(dir, 0o755);
    const data = join(dir, "data");
    cold.push(await once(data));
    warm.push(await once(data));
    rmSync(dir, { recursive: true, force: true });
    process.stderr.write(
      `round ${i + 1}/${rounds}: cold ${cold.at(-1)?.toFixed(0)} ms, warm ${warm.at(-1)?.toFixed(0)} ms\n`,
    );
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  return {
    rounds,
    cold_start_to_first_answer_ms: Math.round(median(cold)),
    warm_start_to_first_answer_ms: Math.round(median(warm)),
    cold_ms: cold.map(Math.round),
    warm_ms: warm.map(Math.round),
  };
}
