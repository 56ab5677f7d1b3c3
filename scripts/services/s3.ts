// An S3-compatible object store: SeaweedFS (`weed server`: master, volume
// server, filer and S3 gateway in one process; built by scripts/seaweedfs),
// every listener on 127.0.0.1 on a port of the state, data under the state
// folder, one access key generated when the state is created (never in the
// repo), telemetry off. Clients use path-style addressing.

import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnDetached } from "../lib/proc.ts";
import type { S3Access, Service, State, Tools } from "./shared.ts";

/** The region the harness's clients sign for (SeaweedFS accepts any). */
export const S3_REGION = "us-east-1";
/** The bucket the readiness check writes to (tests make their own). */
const PROBE_BUCKET = "nova-harness-probe";

export const s3: Service = {
  name: "s3",
  url: (s) => s3Endpoint(s),
  match: "weed server",
  signal: "SIGTERM",
  logFile: (s) => s3Paths(s).log,
  start: startS3,
  probe: probeS3,
  // SeaweedFS's servers also listen on /tmp/seaweedfs-<server>-grpc-<port>.sock (a fixed folder)
  stopped: (s) => {
    const [, masterGrpc, , volumeGrpc, , filerGrpc, s3Grpc] = s.ports.s3Internal ?? [];
    const socks: [string, number | undefined][] = [
      ["master", masterGrpc],
      ["volume", volumeGrpc],
      ["filer", filerGrpc],
      ["s3", s3Grpc],
    ];
    for (const [server, port] of socks) if (port) rmSync(`/tmp/seaweedfs-${server}-grpc-${port}.sock`, { force: true });
  },
  timeoutMs: 60_000,
};

/** Ports the S3 service takes besides its S3 port (master, volume, filer: HTTP and gRPC; S3's gRPC). */
export const S3_INTERNAL_PORTS = 7;

export function s3Credentials(): { accessKeyId: string; secretAccessKey: string } {
  return {
    accessKeyId: `NOVA${randomBytes(8).toString("hex").toUpperCase()}`,
    secretAccessKey: randomBytes(30).toString("base64url"),
  };
}

export function s3Access(s: State): S3Access {
  const c = need(s);
  return { endpoint: s3Endpoint(s), region: S3_REGION, accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey };
}

function s3Endpoint(s: State): string {
  return `http://127.0.0.1:${s.ports.s3}`;
}

function need(s: State): { accessKeyId: string; secretAccessKey: string; internal: number[] } {
  const internal = s.ports.s3Internal ?? [];
  if (!s.s3 || !s.ports.s3 || internal.length !== S3_INTERNAL_PORTS)
    throw new Error("s3: the state predates the S3 service (no ports or key); the services are recreated");
  return { ...s.s3, internal };
}

function startS3(s: State, t: Tools): number {
  const c = need(s);
  const p = s3Paths(s);
  mkdirSync(p.data, { recursive: true });
  mkdirSync(p.meta, { recursive: true });
  // The identities file of SeaweedFS's S3 gateway: one admin key pair.
  writeFileSync(
    p.config,
    `${JSON.stringify(
      {
        identities: [
          {
            name: "nova",
            credentials: [{ accessKey: c.accessKeyId, secretKey: c.secretAccessKey }],
            actions: ["Admin", "Read", "Write", "List", "Tagging"],
          },
        ],
      },
      null,
      2,
    )}\n`,
    { mode: 0o600 },
  );
  const [master, masterGrpc, volume, volumeGrpc, filer, filerGrpc, s3Grpc] = c.internal as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const args = [
    "server",
    "-ip=127.0.0.1",
    "-ip.bind=127.0.0.1",
    `-dir=${p.data}`,
    `-master.dir=${p.meta}`,
    `-master.port=${master}`,
    `-master.port.grpc=${masterGrpc}`,
    "-master.telemetry=false",
    // one master: no peers to wait for before it elects itself (default 10 s, also after every restart)
    "-master.electionTimeout=1s",
    "-master.volumeSizeLimitMB=64",
    "-master.volumePreallocate=false",
    `-volume.port=${volume}`,
    `-volume.port.grpc=${volumeGrpc}`,
    "-volume.max=0",
    "-volume.preStopSeconds=0",
    "-filer",
    `-filer.port=${filer}`,
    `-filer.port.grpc=${filerGrpc}`,
    `-filer.localSocket=${join(p.dir, "filer.sock")}`,
    "-s3",
    `-s3.port=${s.ports.s3}`,
    `-s3.port.grpc=${s3Grpc}`,
    "-s3.port.iceberg=0",
    "-s3.port.lance=0",
    `-s3.config=${p.config}`,
    `-s3.localSocket=${join(p.dir, "s3.sock")}`,
  ];
  // a soft heap limit: the Go runtime collects sooner instead of growing to ~400 MB under the suites
  const env = { ...process.env, GOMEMLIMIT: "256MiB" };
  return spawnDetached(t.weed, args, { logFile: p.log, cwd: p.dir, env });
}

/** Ready when a signed write and read of one object go through (the volume server has joined). */
async function probeS3(s: State): Promise<void> {
  const { S3Client, CreateBucketCommand, HeadBucketCommand, PutObjectCommand, GetObjectCommand } = await import(
    "@aws-sdk/client-s3"
  );
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true"; // see quietAwsNodeWarning (media/s3.ts)
  const a = s3Access(s);
  const client = new S3Client({
    endpoint: a.endpoint,
    region: a.region,
    forcePathStyle: true,
    credentials: { accessKeyId: a.accessKeyId, secretAccessKey: a.secretAccessKey },
    maxAttempts: 1,
    requestHandler: { requestTimeout: 5000, connectionTimeout: 2000, throwOnRequestTimeout: true },
  });
  try {
    try {
      await client.send(new HeadBucketCommand({ Bucket: PROBE_BUCKET }));
    } catch {
      await client.send(new CreateBucketCommand({ Bucket: PROBE_BUCKET }));
    }
    const body = `probe ${Date.now()}`;
    await client.send(new PutObjectCommand({ Bucket: PROBE_BUCKET, Key: "probe", Body: body }));
    const got = await client.send(new GetObjectCommand({ Bucket: PROBE_BUCKET, Key: "probe" }));
    const text = await got.Body?.transformToString();
    if (text !== body) throw new Error(`s3: read back ${JSON.stringify(text)}, wrote ${JSON.stringify(body)}`);
  } finally {
    client.destroy();
  }
}

function s3Paths(s: State) {
  const dir = join(s.stateDir, "s3");
  return {
    dir,
    data: join(dir, "data"),
    meta: join(dir, "master"),
    config: join(dir, "s3.json"),
    log: join(dir, "weed.log"),
  };
}
