// Which code `nova` runs: the compiled dist/ when it is built and no source is newer than the build,
// else the TypeScript sources through tsx (development, tests, a fresh clone). NOVA_RUN=dist|src forces one.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/** The newest modification time (ms) of `dir` and everything under it; a rename or deletion changes a folder's. */
function newest(dir) {
  let t = statSync(dir).mtimeMs;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** @returns {{ kind: "dist" | "src", reason: string }} */
export function pickEntry(root, force = process.env.NOVA_RUN) {
  const stamp = join(root, "dist", "BUILD.json");
  let built;
  try {
    built = statSync(stamp).mtimeMs;
  } catch {
    if (force === "dist") throw new Error("NOVA_RUN=dist: dist/ is not built (npm run build)");
    return { kind: "src", reason: "dist/ not built" };
  }
  if (force === "dist" || force === "src") return { kind: force, reason: "NOVA_RUN" };
  let sources;
  try {
    sources = newest(join(root, "src"));
  } catch {
    return { kind: "dist", reason: "no sources (image)" };
  }
  return sources > built
    ? { kind: "src", reason: "sources newer than dist/" }
    : { kind: "dist", reason: "dist/ fresh" };
}
