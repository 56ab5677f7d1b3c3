/** The `nova` command as a user runs it: embedded start on a fresh data folder, drain on SIGTERM, bad config. */
import assert from "node:assert/strict";
import { chmodSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import pg from "pg";
import { createDatabase } from "../scripts/lib/scratch.ts";
import { freePort, runningEmbeddedUrl } from "../src/platform/db/embedded.ts";
import { services, spawnNova, tempDir } from "./helpers.ts";

test("nova start (embedded PostgreSQL) answers, and SIGTERM drains an in-flight request then exits 0", async () => {
  const dir = tempDir();
  chmodSync(dir, 0o755); // embedded PostgreSQL runs as its own user when we are root
  const port = await freePort();
  // An OTLP/HTTP endpoint that records what it is sent.
  const exported: string[] = [];
  const otlp = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => {
      body += d.toString();
    });
    req.on("end", () => {
      exported.push(`${req.method} ${req.url} ${body}`);
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((r) => otlp.listen(0, "127.0.0.1", () => r()));
  const otlpPort = (otlp.address() as net.AddressInfo).port;
  const t0 = Date.now();
  const nova = spawnNova(["start"], {
    NOVA_DATA_DIR: join(dir, "data"),
    PORT: String(port),
    ADMIN_PORT: "0",
    SHUTDOWN_GRACE_MS: "5000",
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${otlpPort}`,
  });
  try {
    // Bounded for a busy machine (over a minute at a load average of 27 on two cores); bench/startup.ts measures it.
    await nova.waitFor(/Nova is up/, 180_000);
    const startupMs = Date.now() - t0;
    const first = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "{ __typename }" }),
    });
    assert.equal(first.status, 200);
    process.stderr.write(`# nova start: first answer after ${Date.now() - t0} ms (up after ${startupMs} ms)\n`);

    // Nova reaches its own PostgreSQL over the Unix socket in the data folder (client_addr is NULL there).
    const pgUrl = runningEmbeddedUrl(join(dir, "data"));
    assert.ok(pgUrl, "the embedded PostgreSQL's URL is recorded");
    const admin = new pg.Client({ connectionString: pgUrl, application_name: "cli-test" });
    await admin.connect();
    try {
      const r = await admin.query<{ socket: boolean; n: number }>(
        `SELECT client_addr IS NULL AS socket, count(*)::int AS n FROM pg_stat_activity
          WHERE backend_type = 'client backend' AND application_name LIKE 'nova-%' GROUP BY 1`,
      );
      assert.deepEqual(
        r.rows.map((x) => x.socket),
        [true],
        `Nova's connections: ${JSON.stringify(r.rows)}`,
      );
    } finally {
      await admin.end();
    }

    // An in-flight request: headers and half the body sent, the rest after SIGTERM.
    const body = JSON.stringify({ query: '{ user(username: "nobody_here") { id } }' });
    const sock = net.connect(port, "127.0.0.1");
    await new Promise<void>((r) => sock.once("connect", () => r()));
    let response = "";
    sock.on("data", (d) => {
      response += d.toString();
    });
    const closed = new Promise<void>((r) => sock.once("close", () => r()));
    sock.write(
      `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`,
    );
    sock.write(body.slice(0, 10));
    await new Promise((r) => setTimeout(r, 300));
    nova.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(nova.child.exitCode, null, "still draining");
    sock.write(body.slice(10));
    await closed;
    assert.match(response, /^HTTP\/1\.1 200/);
    assert.match(response, /"user":null/);
    const exit = await nova.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, nova.output().slice(-2000));
    // New connections are refused once it has stopped.
    await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`));
    // Spans were exported over OTLP (flushed at shutdown at the latest), including the RPC hop.
    const traces = exported.filter((e) => e.startsWith("POST /v1/traces "));
    assert.ok(traces.length >= 1, "traces exported");
    assert.match(traces.join("\n"), /IdentityService\/GetUserByUsername/);
  } finally {
    if (nova.child.exitCode === null) nova.kill("SIGKILL");
    otlp.close();
  }
});

test("a bad config value stops start-up, names the variable and exits non-zero", async () => {
  const bad = spawnNova(["start"], { PORT: "eighty", NOVA_DATA_DIR: join(tempDir(), "d") });
  const exit = await bad.exited;
  assert.notEqual(exit.code, 0);
  assert.match(bad.output(), /PORT: /);

  const noDb = spawnNova(["serve", "--target=identity"], {});
  assert.notEqual((await noDb.exited).code, 0);
  assert.match(noDb.output(), /DATABASE_URL/);

  const target = spawnNova(["serve", "--target=nope"], {});
  assert.notEqual((await target.exited).code, 0);
  assert.match(target.output(), /unknown target "nope"/);
});

test("media refuses to start in distributed mode without S3_BUCKET (the folder store works in one process only)", async () => {
  const noS3 = spawnNova(["serve", "--target=media"], { DATABASE_URL: (await services()).postgres });
  assert.notEqual((await noS3.exited).code, 0);
  assert.match(noS3.output(), /S3_BUCKET: required for media in distributed mode/);
});

test("every command has --help", async () => {
  for (const cmd of [[], ["start"], ["serve"], ["migrate"], ["certs"]]) {
    const p = spawnNova([...cmd, "--help"], {});
    assert.equal((await p.exited).code, 0);
    assert.match(p.output(), /nova/);
  }
});

test("nova dlq and nova seed say what happened: empty lists, seed twice in one line, usernames; NOVA_DATA_DIR named", async () => {
  const adminUrl = (await services()).postgres;
  const scratch = await createDatabase(adminUrl, "nova_cli");
  try {
    const env = { DATABASE_URL: scratch.url(adminUrl) };
    const seed1 = spawnNova(["seed", "--users", "3", "--follows-per-user", "1", "--posts", "2", "--seed", "7"], env);
    assert.equal((await seed1.exited).code, 0, seed1.output());
    assert.match(seed1.output(), /"usernames":"seed7_0…seed7_2"/);
    const seed2 = spawnNova(["seed", "--users", "3", "--follows-per-user", "1", "--posts", "2", "--seed", "7"], env);
    assert.equal((await seed2.exited).code, 1);
    assert.equal(seed2.output().trim().split("\n").length, 1, seed2.output());
    assert.match(seed2.output(), /seed 7 already applied: usernames seed7_0… exist.*use another --seed/);

    const list = spawnNova(["dlq", "list"], env);
    assert.equal((await list.exited).code, 0);
    assert.equal(list.output().trim(), "no dead letters");
    const replay = spawnNova(["dlq", "replay", "--all"], env);
    assert.equal((await replay.exited).code, 0);
    assert.match(replay.output().trim(), /^nothing to replay/);

    const noDb = spawnNova(["dlq", "list"], { NOVA_DATA_DIR: join(tempDir(), "none") });
    assert.equal((await noDb.exited).code, 2);
    assert.match(noDb.output(), /DATABASE_URL.*NOVA_DATA_DIR/);
  } finally {
    await scratch.drop();
  }
});
