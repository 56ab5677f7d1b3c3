// One-shot `secrets` service of docker-compose.yml: makes the local
// development secrets in the `nova-secrets` volume (never in git), once.
//
//   db-password                 Postgres password of the `nova` role
//   database-url, database-read-url   Nova's DATABASE_URL(_FILE) through PgBouncer
//   redis-url                   Nova's REDIS_URL(_FILE)
//   s3.json                     SeaweedFS's S3 identities: one key pair, for
//   s3-access-key-id, s3-secret-access-key   Nova's S3_*(_FILE) (media)
//   pgbouncer-userlist.txt      PgBouncer's auth_file
//   tls/                        `nova certs dev`: CA, <module>.crt/.key, jwt.key
//
// The files are world-readable inside the volume: the containers run as
// different users (postgres, pgbouncer, nova). Local development only.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.env.SECRETS_DIR ?? "/run/nova-secrets";
const done = join(dir, ".complete");
if (existsSync(done)) {
  console.log(`secrets: already in ${dir}`);
  process.exit(0);
}
mkdirSync(dir, { recursive: true });
const password = randomBytes(24).toString("base64url");
const write = (name, text) => writeFileSync(join(dir, name), text, { mode: 0o444 });
write("db-password", password);
write("database-url", `postgres://nova:${password}@pgbouncer:6432/nova`);
write("redis-url", "redis://redis:6379");
write("database-read-url", `postgres://nova:${password}@pgbouncer:6432/nova_ro`);
write("pgbouncer-userlist.txt", `"nova" "${password}"\n`);
const s3Key = `NOVA${randomBytes(8).toString("hex").toUpperCase()}`;
const s3Secret = randomBytes(30).toString("base64url");
write("s3-access-key-id", s3Key);
write("s3-secret-access-key", s3Secret);
write(
  "s3.json",
  JSON.stringify({
    identities: [
      {
        name: "nova",
        credentials: [{ accessKey: s3Key, secretKey: s3Secret }],
        actions: ["Admin", "Read", "Write", "List", "Tagging"],
      },
    ],
  }),
);
const tls = join(dir, "tls");
execFileSync(process.execPath, ["bin/nova.mjs", "certs", "dev", "--out", tls, "--san", "DNS:localhost"], {
  cwd: "/app",
  stdio: "inherit",
});
chmodSync(tls, 0o755);
for (const f of readdirSync(tls)) chmodSync(join(tls, f), 0o444);
writeFileSync(done, new Date().toISOString());
console.log(`secrets: written to ${dir}`);
