#!/usr/bin/env node
// The `nova` command: the compiled dist/ when built and fresh (bin/entry.mjs), else the sources through tsx.
import module from "node:module";
import { fileURLToPath } from "node:url";
import { pickEntry } from "./entry.mjs";

const root = new URL("..", import.meta.url);
if (pickEntry(fileURLToPath(root)).kind === "dist") {
  // Node 22.1+ keeps compiled code between runs (in the temp folder); Node 20 has no such cache.
  module.enableCompileCache?.();
  await import(new URL("dist/cli/nova.js", root).href);
} else {
  let tsx;
  try {
    tsx = await import("tsx/esm/api");
  } catch {
    // A production install (npm ci --omit=dev) has no tsx: it runs dist/ only.
    process.stderr.write("nova: dist/ is not built or is older than src/ (npm run build), and tsx is not installed\n");
    process.exit(1);
  }
  tsx.register();
  await import(new URL("src/cli/nova.ts", root).href);
}
