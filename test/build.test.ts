/**
 * The production build: `npm run build` makes dist/ (JavaScript plus the files the code reads beside
 * itself), `nova` runs it when it is fresh and the sources otherwise, and Nova started from dist/
 * answers GraphQL. Timings are printed, not asserted (bench/startup.ts measures them).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import pg from "pg";
import { pickEntry } from "../bin/entry.mjs";
import { GraphService } from "../src/gen/nova/graph/v1/graph_pb.ts";
import { freePort } from "../src/platform/db/embedded.ts";
import { loadTls } from "../src/platform/rpc/tls.ts";
import { gql, REGISTER, ROOT, services, spawnNova, tempDir, unique } from "./helpers.ts";

const DIST = join(ROOT, "dist");

function files(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true }))
    if (e.isDirectory()) files(join(dir, e.name), out);
    else out.push(relative(DIST, join(dir, e.name)));
  return out;
}

test("npm run build compiles src/ to dist/ with every file the code reads beside itself, and no .ts import", () => {
  const t0 = Date.now();
  const r = spawnSync("npm", ["run", "build"], { cwd: ROOT, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  process.stderr.write(`# npm run build: ${Date.now() - t0} ms\n`);
  const built = files(DIST);
  for (const f of [
    "BUILD.json",
    "cli/nova.js",
    "gateway/schema.graphql",
    "services/identity/common-passwords.txt",
    "services/identity/migrations/0001_init.sql",
    "platform/events/migrations/0001_outbox.sql",
  ])
    assert.ok(built.includes(f), `dist/${f} is built`);
  assert.ok(
    built.some((f) => f.startsWith("gateway/operations/") && f.endsWith(".graphql")),
    "the persisted operations are copied",
  );
  assert.deepEqual(
    built.filter((f) => f.endsWith(".ts")),
    [],
    "no TypeScript in dist/",
  );
  // Node 20 cannot load a .ts file: an import left unrewritten would fail only when reached.
  const tsImports = built
    .filter((f) => f.endsWith(".js"))
    .flatMap((f) =>
      [...readFileSync(join(DIST, f), "utf8").matchAll(/(?:from\s+|import\()\s*["']([^"']+\.ts)["']/g)].map(
        (m) => `${f}: ${m[1]}`,
      ),
    );
  assert.deepEqual(tsImports, []);
  assert.equal(pickEntry(ROOT, undefined).kind, "dist", "the fresh build is what nova runs");
});

test("nova --help answers from dist/ and from the sources (times printed)", () => {
  for (const mode of ["dist", "src"]) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [join(ROOT, "bin/nova.mjs"), "--help"], {
      cwd: ROOT,
      env: { ...process.env, NOVA_RUN: mode },
      encoding: "utf8",
    });
    const ms = Math.round(performance.now() - t0);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Usage: nova <command>/m);
    process.stderr.write(`# nova --help (${mode}): ${ms} ms\n`);
  }
  const serve = spawnSync(process.execPath, [join(ROOT, "bin/nova.mjs"), "serve", "--help"], {
    cwd: ROOT,
    env: { ...process.env, NOVA_RUN: "dist" },
    encoding: "utf8",
  });
  assert.match(serve.stdout, /^Targets: all, identity, graph, .*relay$/m, "serve --help lists the modules");
  const bad = spawnSync(process.execPath, [join(ROOT, "bin/nova.mjs"), "nope"], {
    cwd: ROOT,
    env: { ...process.env, NOVA_RUN: "dist" },
    encoding: "utf8",
  });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown command "nope"/);
});

test("nova runs dist/ only when it is built and no source is newer; NOVA_RUN forces one", () => {
  const root = tempDir();
  mkdirSync(join(root, "src", "cli"), { recursive: true });
  writeFileSync(join(root, "src", "cli", "nova.ts"), "");
  assert.deepEqual(pickEntry(root, undefined), { kind: "src", reason: "dist/ not built" });
  assert.throws(() => pickEntry(root, "dist"), /not built/);
  mkdirSync(join(root, "dist"));
  writeFileSync(join(root, "dist", "BUILD.json"), "{}");
  const old = new Date(Date.now() - 60_000);
  for (const p of ["src/cli/nova.ts", "src/cli", "src"]) utimesSync(join(root, p), old, old);
  assert.equal(pickEntry(root, undefined).kind, "dist");
  assert.equal(pickEntry(root, "src").kind, "src");
  // An edited source, and a new one (only its folder's time changes with some tools), make the build stale.
  utimesSync(join(root, "src", "cli", "nova.ts"), new Date(), new Date());
  assert.deepEqual(pickEntry(root, undefined), { kind: "src", reason: "sources newer than dist/" });
  utimesSync(join(root, "src", "cli", "nova.ts"), old, old);
  utimesSync(join(root, "src", "cli"), new Date(), new Date());
  assert.equal(pickEntry(root, undefined).kind, "src");
  assert.equal(pickEntry(root, "dist").kind, "dist");
  // The image ships dist/ without the sources.
  const image = tempDir();
  mkdirSync(join(image, "dist"));
  writeFileSync(join(image, "dist", "BUILD.json"), "{}");
  assert.deepEqual(pickEntry(image, undefined), { kind: "dist", reason: "no sources (image)" });
});

test("Nova started from dist/ (embedded PostgreSQL) registers a user and answers a query", async () => {
  assert.ok(existsSync(join(DIST, "BUILD.json")), "built by the first test");
  const dir = tempDir();
  chmodSync(dir, 0o755); // embedded PostgreSQL runs as its own user when we are root
  const port = await freePort();
  const t0 = Date.now();
  const nova = spawnNova(["start"], {
    NOVA_RUN: "dist",
    NOVA_DATA_DIR: join(dir, "data"),
    PORT: String(port),
    ADMIN_PORT: "0",
  });
  try {
    await nova.waitFor(/Nova is up/, 180_000);
    process.stderr.write(`# nova start from dist/ (fresh data folder): up after ${Date.now() - t0} ms\n`);
    const url = `http://127.0.0.1:${port}/graphql`;
    const username = unique("b");
    // Registering reads the password list and writes through identity's migrated tables.
    const reg = await gql(url, REGISTER, {
      variables: { input: { email: `${username}@example.com`, username, password: "correct horse battery" } },
    });
    assert.equal(reg.body.data?.register?.user?.username, username, JSON.stringify(reg.body));
    const weak = await gql(url, REGISTER, {
      variables: { input: { email: `w${username}@example.com`, username: `w${username}`, password: "password1234" } },
    });
    assert.equal(weak.body.errors?.[0]?.extensions?.field, "password", "the common-password list is read from dist/");
    const me = await gql(url, "{ me { username } }", { token: reg.body.data.register.accessToken });
    assert.deepEqual(me.body, { data: { me: { username } } });
    assert.doesNotMatch(nova.output(), /src\/[\w/]+\.ts/, "no source file in the output");
  } finally {
    nova.kill("SIGTERM");
    await nova.exited;
  }
});

test("a service started from dist/ (nova serve --target=graph on the harness) answers a gRPC call over mTLS", async () => {
  assert.ok(existsSync(join(DIST, "BUILD.json")), "built by the first test");
  const s = await services();
  const tls = join(tempDir(), "tls");
  const dist = { NOVA_RUN: "dist" };
  const certs = spawnNova(["certs", "dev", "--out", tls], dist);
  assert.equal((await certs.exited).code, 0, certs.output());
  const migrate = spawnNova(["migrate", "--target=graph"], { ...dist, DATABASE_URL: s.postgres });
  assert.equal((await migrate.exited).code, 0, migrate.output());
  // A counts row written here: the answer is read from the database, not made up.
  const user = crypto.randomUUID();
  const db = new pg.Client({ connectionString: s.postgres });
  await db.connect();
  try {
    await db.query("INSERT INTO graph.counts (user_id, follower_count, following_count) VALUES ($1, 3, 2)", [user]);
  } finally {
    await db.end();
  }
  const port = await freePort();
  const t0 = Date.now();
  const graph = spawnNova(["serve", "--target=graph"], {
    ...dist,
    DATABASE_URL: s.postgres,
    KAFKA_BROKERS: s.kafka,
    REDIS_URL: s.redis,
    NOVA_TLS_DIR: tls,
    RPC_PORT: String(port),
    ADMIN_PORT: String(await freePort()),
  });
  try {
    const ready = await graph.waitFor(/"startupMs":(\{[^}]*\}).*"msg":"ready"/, 120_000);
    process.stderr.write(`# nova serve --target=graph from dist/: ready after ${Date.now() - t0} ms ${ready[1]}\n`);
    const t = loadTls({ ca: join(tls, "ca.crt"), cert: join(tls, "gateway.crt"), key: join(tls, "gateway.key") });
    const client = createClient(
      GraphService,
      createGrpcTransport({
        baseUrl: `https://127.0.0.1:${port}`,
        nodeOptions: { ca: t.ca, cert: t.cert, key: t.key },
        interceptors: [
          (next) => async (req) => {
            req.header.set("x-nova-caller", "gateway");
            return next(req);
          },
        ],
      }),
    );
    const r = await client.getCounts({ userIds: [user] });
    assert.deepEqual(
      r.counts.map((c) => [c.userId, c.followerCount, c.followingCount]),
      [[user, 3, 2]],
    );
    assert.doesNotMatch(graph.output(), /src\/[\w/]+\.ts/, "no source file in the output");
  } finally {
    graph.kill("SIGTERM");
    await graph.exited;
  }
});
