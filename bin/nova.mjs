#!/usr/bin/env node
// The `nova` command: the compiled dist/ when built and fresh (bin/entry.mjs), else the sources through tsx.
import { fileURLToPath } from "node:url";
import { pickEntry } from "./entry.mjs";

const root = new URL("..", import.meta.url);
if (pickEntry(fileURLToPath(root)).kind === "dist") {
  await import(new URL("dist/cli/nova.js", root).href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import(new URL("src/cli/nova.ts", root).href);
}
