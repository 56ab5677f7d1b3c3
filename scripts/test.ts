/**
 * `npm test`: the whole suite. Brings the real services up once through the
 * harness (PostgreSQL primary + replica, PgBouncer, Redis, Kafka), hands their
 * addresses to the tests in NOVA_TEST_SERVICES, and runs node:test over every
 * `*.test.ts` under src/ and test/. First it installs what the machine lacks (scripts/install.ts). Extra arguments filter files by substring.
 */
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { ensureInstalled } from "./install.ts";
import { ensureServices } from "./services.ts";

function find(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === "node_modules" || name.startsWith(".")) continue;
    if (statSync(p).isDirectory()) find(p, out);
    else if (name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

const root = new URL("..", import.meta.url).pathname;
const filters = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const files = [...find(join(root, "src")), ...find(join(root, "test"))]
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  process.stderr.write("no test files matched\n");
  process.exit(1);
}

// What the harness needs on this machine (packages, Kafka jars, deploy tools): a few ms when all is there.
try {
  ensureInstalled();
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
}
const t0 = Date.now();
const services = await ensureServices();
const shown = { ...services, s3: { ...services.s3, secretAccessKey: "[redacted]" } };
process.stderr.write(`services ready in ${Date.now() - t0} ms: ${JSON.stringify(shown)}\n`);

const child = spawn(
  process.execPath,
  ["--expose-gc", "--import", "tsx", "--test", "--test-reporter=spec", "--test-concurrency=1", ...files],
  {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, NOVA_TEST_SERVICES: JSON.stringify(services), LOG_LEVEL: process.env.LOG_LEVEL ?? "warn" },
  },
);
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
