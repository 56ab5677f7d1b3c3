/**
 * Embedded mode without SMTP_URL: each mail is written to $NOVA_DATA_DIR/mail as `<event id>.eml`
 * (the whole message) and `.html` (to open in a browser), and its link works like a sent one.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Nova } from "../src/runtime/app.ts";
import { gql, startInProcess, tempDir, unique } from "./helpers.ts";

let nova: Nova;
let url: string;
const dataDir = tempDir("nova-mail-");

before(async () => {
  ({ nova, url } = await startInProcess({ NOVA_DATA_DIR: dataDir, IDENTITY_REQUIRE_VERIFIED_EMAIL: "true" }));
});

after(async () => {
  await nova?.stop();
});

async function mailFiles(to: string, timeoutMs = 15_000): Promise<string[]> {
  const dir = join(dataDir, "mail");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let names: string[] = [];
    try {
      names = readdirSync(dir).filter((n) => n.endsWith(".eml"));
    } catch {}
    const mine = names.filter((n) => readFileSync(join(dir, n), "utf8").includes(`To: ${to}`));
    if (mine.length > 0) return mine.map((n) => join(dir, n));
    if (Date.now() > deadline) assert.fail(`no mail to ${to} in ${dir} (${names.length} other files)`);
    await sleep(100);
  }
}

test("without SMTP_URL the verification mail is a file whose link verifies and signs in", async () => {
  const username = unique("mf");
  const email = `${username}@example.com`;
  const r = await gql(url, `mutation($i: RegisterInput!) { signUp(input: $i) { verificationRequired } }`, {
    variables: { i: { email, username, password: "correct horse battery" } },
  });
  assert.deepEqual(r.body, { data: { signUp: { verificationRequired: true } } });
  const [eml] = await mailFiles(email);
  const raw = readFileSync(eml as string, "utf8");
  assert.match(raw, /^Subject: Verify your email address for Nova$/m);
  assert.match(raw, /^Message-ID: <[0-9a-f-]{36}@nova>$/m);
  const html = readFileSync((eml as string).replace(/\.eml$/, ".html"), "utf8");
  assert.match(html, /<a href="http:\/\/localhost:4000\/verify-email\?token=/);
  // quoted-printable may wrap the text part: take the token from the HTML file
  const token = /verify-email\?token=([A-Za-z0-9_-]+)/.exec(html)?.[1] ?? assert.fail("no link");
  const v = await gql(url, `mutation($t: String!) { verifyEmail(token: $t) { accessToken user { username } } }`, {
    variables: { t: token },
  });
  assert.equal(v.body.data?.verifyEmail.user.username, username, JSON.stringify(v.body));
});
