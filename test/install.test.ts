/** The installer's decisions (scripts/install.ts) on a made-up machine: what it runs, what it asks of a person. */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { inputsHash, isInstalled, type Machine, plan, STEPS } from "../scripts/install.ts";
import { ROOT, tempDir } from "./helpers.ts";

function machine(over: Partial<Machine> = {}): Machine {
  const bin = tempDir("nova-install-bin-");
  return {
    root: ROOT,
    cacheDir: tempDir("nova-install-cache-"),
    pathDirs: [bin],
    isRoot: false,
    hasSudo: false,
    hasAptGet: true,
    users: new Set(),
    ...over,
  };
}

/** Everything present and stamped, as a finished install leaves it. */
function installEverything(m: Machine): void {
  for (const p of ["redis-server", "pgbouncer", "ffmpeg", "ffprobe", "chromium", "java", "mvn"])
    writeFileSync(join(m.pathDirs[0] ?? "", p), "");
  const version = "4.1.1";
  process.env.NOVA_KAFKA_VERSION = version;
  mkdirSync(join(m.cacheDir, "kafka", version, "libs"), { recursive: true });
  writeFileSync(join(m.cacheDir, "kafka", version, "libs", ".complete"), "");
  mkdirSync(join(m.cacheDir, "bin"), { recursive: true });
  for (const t of [
    "kustomize",
    "kubeconform",
    "promtool",
    "hadolint",
    "nova-yaml2json",
    "nova-composecheck",
    "weed",
    "mailpit",
    "toxiproxy-server",
  ])
    writeFileSync(join(m.cacheDir, "bin", t), "");
  mkdirSync(join(m.cacheDir, "k8s-schemas"), { recursive: true });
  writeFileSync(join(m.cacheDir, "k8s-schemas", ".complete"), "");
  mkdirSync(join(m.cacheDir, "stamps"), { recursive: true });
  for (const s of STEPS) writeFileSync(join(m.cacheDir, "stamps", `${s.name}.stamp`), inputsHash(m, s));
}

test("a fresh machine: every step is planned; without root or sudo it names the command to run", () => {
  const m = machine();
  assert.throws(
    () => plan(m),
    /cannot install bootstrap: they need root and there is no sudo[\s\S]*sudo bash scripts\/bootstrap/,
  );
  assert.deepEqual(
    plan({ ...m, isRoot: true }).map((s) => s.name),
    ["bootstrap", "deploy-tools", "seaweedfs", "mailpit", "toxiproxy"],
  );
  assert.throws(() => plan({ ...m, isRoot: true, hasAptGet: false }), /there is no apt-get/);
});

test("a machine that has everything plans nothing, quickly", () => {
  const m = machine();
  installEverything(m);
  const t0 = performance.now();
  assert.deepEqual(plan(m), []);
  assert.ok(performance.now() - t0 < 1000, "the check is well under a second");
});

test("a missing program, a missing system user or a changed install script re-plans just that step", () => {
  const m = machine({ isRoot: true, users: new Set(["nova-pg"]) });
  installEverything(m);
  assert.deepEqual(plan(m), []);
  assert.deepEqual(
    plan({ ...m, users: new Set() }).map((s) => s.name),
    ["bootstrap"],
  );
  const noTools = { ...m, pathDirs: [tempDir()] };
  assert.deepEqual(
    plan(noTools).map((s) => s.name),
    ["bootstrap"],
  );
  writeFileSync(join(m.cacheDir, "stamps", "deploy-tools.stamp"), "an older version");
  assert.equal(isInstalled(m, STEPS.find((s) => s.name === "deploy-tools") as (typeof STEPS)[number]), false);
  assert.deepEqual(
    plan(m).map((s) => s.name),
    ["deploy-tools"],
  );
  installEverything(m);
  writeFileSync(join(m.cacheDir, "stamps", "seaweedfs.stamp"), "an older SeaweedFS");
  assert.deepEqual(
    plan(m).map((s) => s.name),
    ["seaweedfs"],
  );
});

test("argon2 runs its prebuilt binary: npm install needs no compiler and no Node headers for it", () => {
  // argon2 0.45's linux-x64 prebuild crashes Node 20 on load, so its install script compiled it
  // instead (node-gyp: a compiler and Node's headers); 0.44's loads. Pinned in package.json.
  const require = createRequire(import.meta.url);
  const dir = dirname(require.resolve("argon2/package.json"));
  const binary: string = require("node-gyp-build").path(dir);
  assert.ok(binary.startsWith(join(dir, "prebuilds")), `argon2 loads ${binary}`);
});
