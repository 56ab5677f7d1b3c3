/**
 * What the suite needs on this machine, as ONE table of steps: each says how to see cheaply that it is
 * present (files and a stamp, no process spawned) and which script installs it. `npm test` runs
 * `ensureInstalled()` first, so a fresh machine needs nothing but `npm install && npm test`; on a machine
 * that has everything the check costs a few milliseconds. A new tool (an S3 server, an SMTP catcher,
 * a browser) is one more row.
 *
 *   node --import tsx scripts/install.ts [--check]   (--check: say what is missing, install nothing)
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join, resolve } from "node:path";

const ROOT = resolve(new URL("..", import.meta.url).pathname);

export interface Machine {
  root: string;
  cacheDir: string;
  /** directories searched for programs: PATH plus the sbin/bin dirs not every user has on PATH */
  pathDirs: string[];
  isRoot: boolean;
  hasSudo: boolean;
  hasAptGet: boolean;
  users: Set<string>;
}

export interface Step {
  name: string;
  /** what it brings, for the progress line */
  what: string;
  /** files whose content decides the installed version: a change re-runs the step */
  inputs: string[];
  /** present without looking at the stamp (programs on PATH, a system user) */
  present: (m: Machine) => boolean;
  /** needs root (packages, users) */
  privileged: boolean;
  /** the command that installs it, run from the repository root */
  command: string[];
  /** what a person without root runs instead */
  manual: string;
}

const have = (m: Machine, program: string) => m.pathDirs.some((d) => existsSync(join(d, program)));
const pgUser = () => process.env.NOVA_PG_USER || "nova-pg";
const kafkaVersion = (m: Machine) =>
  process.env.NOVA_KAFKA_VERSION?.trim() || readFileSync(join(m.root, "scripts/kafka/VERSION"), "utf8").trim();

export const STEPS: Step[] = [
  {
    name: "bootstrap",
    what: "Debian packages (redis-server, pgbouncer, ffmpeg, chromium, Java 17, Maven), the PostgreSQL system user, the Kafka broker jars",
    inputs: ["scripts/bootstrap", "scripts/kafka/pom.xml", "scripts/kafka/VERSION"],
    present: (m) =>
      ["redis-server", "pgbouncer", "ffmpeg", "ffprobe", "chromium", "java", "mvn"].every((p) => have(m, p)) &&
      (!m.isRoot || m.users.has(pgUser())) &&
      existsSync(join(m.cacheDir, "kafka", kafkaVersion(m), "libs", ".complete")),
    privileged: true,
    command: ["bash", "scripts/bootstrap"],
    manual: "sudo bash scripts/bootstrap",
  },
  {
    name: "deploy-tools",
    what: "deployment checks (kustomize, kubeconform, promtool, hadolint, yaml2json, composecheck, Kubernetes schemas)",
    inputs: ["scripts/deploy-tools", "deploy/tools"],
    present: (m) =>
      ["kustomize", "kubeconform", "promtool", "hadolint", "nova-yaml2json", "nova-composecheck"].every((t) =>
        existsSync(join(m.cacheDir, "bin", t)),
      ) && existsSync(join(m.cacheDir, "k8s-schemas", ".complete")),
    privileged: false,
    command: ["bash", "scripts/deploy-tools"],
    manual: "bash scripts/deploy-tools",
  },
  {
    name: "seaweedfs",
    what: "the harness's S3 server (SeaweedFS `weed`, built with Go from deploy/tools/seaweedfs; minutes when cold)",
    inputs: ["scripts/seaweedfs", "deploy/tools/seaweedfs"],
    present: (m) => existsSync(join(m.cacheDir, "bin", "weed")),
    privileged: false,
    command: ["bash", "scripts/seaweedfs"],
    manual: "bash scripts/seaweedfs",
  },
  {
    name: "mailpit",
    what: "Mailpit, the SMTP server the tests read mail from (go install from the module proxy)",
    inputs: ["scripts/mailpit"],
    present: (m) => existsSync(join(m.cacheDir, "bin", "mailpit")),
    privileged: false,
    command: ["bash", "scripts/mailpit"],
    manual: "bash scripts/mailpit",
  },
  {
    name: "toxiproxy",
    what: "Toxiproxy, the fault-injecting proxy of `npm run chaos` (go install from the module proxy)",
    inputs: ["scripts/toxiproxy"],
    present: (m) => existsSync(join(m.cacheDir, "bin", "toxiproxy-server")),
    privileged: false,
    command: ["bash", "scripts/toxiproxy"],
    manual: "bash scripts/toxiproxy",
  },
];

function filesUnder(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((n) => filesUnder(join(path, n)));
}

/** The hash of a step's inputs: the stamp a finished install leaves. */
export function inputsHash(m: Machine, step: Step): string {
  const h = createHash("sha256");
  for (const input of step.inputs)
    for (const f of filesUnder(join(m.root, input))) h.update(f.slice(m.root.length)).update(readFileSync(f));
  return h.digest("hex");
}

const stampFile = (m: Machine, step: Step) => join(m.cacheDir, "stamps", `${step.name}.stamp`);

export function isInstalled(m: Machine, step: Step): boolean {
  const stamp = stampFile(m, step);
  return step.present(m) && existsSync(stamp) && readFileSync(stamp, "utf8") === inputsHash(m, step);
}

/** The steps to run; throws with the commands to run by hand when they need root and this user has none. */
export function plan(m: Machine): Step[] {
  const todo = STEPS.filter((s) => !isInstalled(m, s));
  const stuck = todo.filter((s) => (s.privileged && !m.isRoot && !m.hasSudo) || (s.privileged && !m.hasAptGet));
  if (stuck.length) {
    const why = m.hasAptGet
      ? "they need root and there is no sudo"
      : "there is no apt-get (Debian or Ubuntu is needed)";
    throw new Error(
      `install: cannot install ${stuck.map((s) => s.name).join(", ")}: ${why}. Run, then npm test again:\n` +
        stuck.map((s) => `  ${s.manual}`).join("\n"),
    );
  }
  return todo;
}

export function thisMachine(root = ROOT): Machine {
  const pathDirs = [...(process.env.PATH ?? "").split(delimiter).filter(Boolean), "/usr/sbin", "/usr/bin", "/sbin"];
  const users = new Set(
    existsSync("/etc/passwd")
      ? readFileSync("/etc/passwd", "utf8")
          .split("\n")
          .map((l) => l.split(":")[0] ?? "")
      : [],
  );
  const m: Machine = {
    root,
    cacheDir: resolve(process.env.NOVA_CACHE_DIR || join(homedir(), ".cache/nova")),
    pathDirs,
    isRoot: process.getuid?.() === 0,
    hasSudo: false,
    hasAptGet: false,
    users,
  };
  m.hasSudo = have(m, "sudo");
  m.hasAptGet = have(m, "apt-get");
  return m;
}

/** Installs what is missing, one progress line a step; silent and quick when nothing is. */
export function ensureInstalled(m = thisMachine()): void {
  for (const step of plan(m)) {
    const t0 = Date.now();
    process.stderr.write(`install: ${step.name}: ${step.what} ...\n`);
    const [program = "bash", ...args] = step.command;
    const r = spawnSync(program, args, { cwd: m.root, stdio: ["ignore", 2, 2] });
    if (r.status !== 0) throw new Error(`install: ${step.name} failed (exit ${r.status}); run: ${step.manual}`);
    mkdirSync(join(m.cacheDir, "stamps"), { recursive: true });
    writeFileSync(stampFile(m, step), inputsHash(m, step));
    process.stderr.write(`install: ${step.name}: done in ${Math.round((Date.now() - t0) / 1000)} s\n`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    if (process.argv.includes("--check")) {
      const missing = STEPS.filter((s) => !isInstalled(thisMachine(), s));
      process.stdout.write(missing.length ? `missing: ${missing.map((s) => s.name).join(", ")}\n` : "all installed\n");
      process.exit(missing.length ? 1 : 0);
    }
    ensureInstalled();
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  }
}
