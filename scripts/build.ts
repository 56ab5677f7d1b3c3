/**
 * `npm run build`: compiles src/ to dist/ with tsc (tsconfig.build.json) and copies every file
 * under src/ that is not TypeScript (schema.graphql, migrations, operations, the password list),
 * since the code reads them beside itself through import.meta.url. tsc rather than esbuild: one
 * file out per file in keeps those relative reads and the lazy module imports working unchanged,
 * and it is already a dependency. It does not type-check (noCheck): `npm run check` does.
 * Last it writes dist/BUILD.json, whose time bin/nova.mjs compares with the sources'.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const src = join(root, "src");
const dist = join(root, "dist");

/** Files under `dir` (relative paths), tests left out. */
function files(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) files(p, out);
    else if (!entry.name.endsWith(".test.ts")) out.push(relative(src, p));
  }
  return out;
}

const t0 = performance.now();
rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const r = spawnSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], { stdio: "inherit" });
if (r.status !== 0) {
  process.stderr.write("build: tsc failed\n");
  process.exit(r.status ?? 1);
}
const assets = files(src).filter((f) => !f.endsWith(".ts"));
for (const f of assets) {
  mkdirSync(dirname(join(dist, f)), { recursive: true });
  copyFileSync(join(src, f), join(dist, f));
}
const ms = Math.round(performance.now() - t0);
writeFileSync(join(dist, "BUILD.json"), `${JSON.stringify({ builtAt: new Date().toISOString(), ms })}\n`);
process.stderr.write(`build: dist/ in ${ms} ms (${assets.length} assets copied)\n`);
