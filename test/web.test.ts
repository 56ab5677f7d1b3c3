/**
 * The web client in a real browser (Debian's chromium, driven by playwright-core) against a Nova
 * started in this process that serves the built client, in persisted-only mode as in production.
 * Two people, each a browser context: A signs up and posts two photos with alt text; B signs up,
 * follows A and sees the post arrive in the open feed (feedUpdated, no reload); B likes and comments,
 * and A's notifications screen shows both live. axe-core checks each screen (no serious or critical
 * violations); screenshots of each screen at 375 and 1280 px go to test-artifacts/web/.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { gzipSync } from "node:zlib";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import sharp from "sharp";
import { WebSocket } from "ws";
import { ensureWebClient } from "../src/cli/web.ts";
import { WEB_DIST } from "../src/gateway/web.ts";
import type { Nova } from "../src/runtime/app.ts";
import { ROOT, startInProcess, tempDir, unique } from "./helpers.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACTS = join(ROOT, "test-artifacts", "web");
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const WAIT = { timeout: 30_000 };

let nova: Nova;
let origin: string;
let browser: Browser;
const contexts: BrowserContext[] = [];
const cspViolations: string[] = [];

before(async () => {
  assert.ok(
    existsSync(CHROMIUM),
    `${CHROMIUM} is missing: the installer puts Debian's chromium there (scripts/install.ts)`,
  );
  const built = await ensureWebClient();
  if (built > 0) process.stderr.write(`web client built in ${built} ms\n`);
  const started = await startInProcess({ GATEWAY_PERSISTED_ONLY: "true" });
  nova = started.nova;
  origin = started.url.replace(/\/graphql$/, "");
  const asRoot = process.getuid?.() === 0;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: asRoot ? ["--no-sandbox"] : [] });
  mkdirSync(ARTIFACTS, { recursive: true });
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await nova?.stop();
});

async function person(colorScheme: "light" | "dark"): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme });
  contexts.push(context);
  const page = await context.newPage();
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  return page;
}

/** axe-core in the page (evaluated through the protocol, so the page's CSP needs no exception for it). */
async function accessible(page: Page, screen: string): Promise<void> {
  if (!(await page.evaluate(() => "axe" in globalThis))) await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (
      globalThis as unknown as {
        axe: { run(): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> };
      }
    ).axe;
    const result = await axe.run();
    return result.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  });
  assert.deepEqual(violations, [], `${screen}: accessibility violations`);
}

/** Screenshots at both widths (and axe at both), back to the wide layout afterwards. */
async function capture(page: Page, screen: string): Promise<void> {
  for (const width of [375, 1280]) {
    await page.setViewportSize({ width, height: 900 });
    await accessible(page, `${screen} at ${width}px`);
    await page.screenshot({ path: join(ARTIFACTS, `${screen}-${width}.png`), fullPage: true });
  }
}

async function signUp(page: Page, username: string, screenshots = false): Promise<void> {
  await page.goto(`${origin}/signup`);
  // A value the Email scalar refuses: VALIDATION_FAILED naming email, a sentence without graphql-js's wording.
  await page.getByLabel("Email").fill("not-an-address");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(`${unique("pw")}-Horse-Battery`);
  await page.getByRole("button", { name: "Sign up" }).click();
  const emailError = page.locator("[data-field-error=email]");
  await emailError.waitFor(WAIT);
  assert.match((await emailError.textContent()) ?? "", /^Please check the email address: /);
  assert.doesNotMatch((await emailError.textContent()) ?? "", /Variable|\$input/);
  await page.getByLabel("Email").fill(`${username}@example.com`);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill("short");
  await page.getByRole("button", { name: "Sign up" }).click();
  // The coded error (VALIDATION_FAILED, field password) is a sentence beside the password field.
  const error = page.locator("[data-field-error=password]");
  await error.waitFor(WAIT);
  assert.match((await error.textContent()) ?? "", /^Please check the password: must be at least/);
  assert.equal(await page.locator("[data-field-error=email]").count(), 0);
  if (screenshots) await capture(page, "signup-error");
  await page.getByLabel("Password").fill(`${unique("pw")}-Horse-Battery`);
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.getByRole("heading", { name: "Home", level: 1 }).waitFor(WAIT);
}

async function photo(color: string): Promise<string> {
  const path = join(tempDir("nova-web-"), `${color}.png`);
  await sharp({ create: { width: 640, height: 480, channels: 3, background: color } })
    .png()
    .toFile(path);
  return path;
}

test("two people in the browser: sign up, post photos, follow, live feed, like, comment, live notification, mute, block", async () => {
  const a = await person("light");
  const b = await person("dark");
  const nameA = unique("a").toLowerCase();
  const nameB = unique("b").toLowerCase();

  await a.goto(`${origin}/signup`);
  await capture(a, "signup");
  await signUp(a, nameA);
  await signUp(b, nameB, true);

  // An address that is taken (verification is off here, so signUp answers CONFLICT naming email).
  const c = await person("light");
  await c.goto(`${origin}/signup`);
  await c.getByLabel("Email").fill(`${nameA}@example.com`);
  await c.getByLabel("Username").fill(unique("c").toLowerCase());
  await c.getByLabel("Password").fill(`${unique("pw")}-Horse-Battery`);
  await c.getByRole("button", { name: "Sign up" }).click();
  const taken = c.locator("[data-field-error=email]");
  await taken.waitFor(WAIT);
  assert.equal(await taken.textContent(), "That email address is already taken.");

  // B follows A from A's profile, then goes home through the app: from here on the page is never reloaded.
  await b.goto(`${origin}/u/${nameA}`);
  await b.getByRole("button", { name: "Follow" }).click();
  await b.getByRole("button", { name: "Unfollow" }).waitFor(WAIT);
  assert.match((await b.getByTestId("followers").textContent()) ?? "", /1 follower/);
  await b.getByRole("link", { name: "Home" }).click();
  await b.getByRole("heading", { name: "Home", level: 1 }).waitFor(WAIT);
  await b.evaluate(() => Object.assign(globalThis, { novaNoReload: true }));

  // A posts two photos with alt text, in order.
  await a.getByRole("link", { name: "New post" }).click();
  await a.getByLabel("Caption").fill("Two colours #web");
  await a.getByLabel("Add photos").setInputFiles([await photo("#d03030"), await photo("#3050d0")]);
  await a.getByLabel("Description of photo 1 (alt text)").fill("A red square");
  await a.getByLabel("Description of photo 2 (alt text)").fill("A blue square");
  await capture(a, "compose");
  await a.getByRole("button", { name: "Share" }).click();
  await a.getByRole("heading", { name: "Two colours #web", level: 1 }).waitFor(WAIT);
  assert.equal(await a.locator(".carousel img").getAttribute("alt"), "A red square");
  await a.getByRole("button", { name: "Next photo" }).click();
  assert.equal(await a.locator(".carousel img").getAttribute("alt"), "A blue square");

  // A waits on the notifications screen; B sees the new-post notice live and opens the post in the feed.
  await a.getByRole("link", { name: "Notifications" }).click();
  await a.getByRole("heading", { name: "Notifications", level: 1 }).waitFor(WAIT);
  await b.getByRole("button", { name: /1 new post/ }).waitFor(WAIT);
  await capture(b, "feed-notice");
  await b.getByRole("button", { name: /1 new post/ }).click();
  const card = b.getByRole("article", { name: `Post by ${nameA}` });
  await card.waitFor(WAIT);
  assert.equal(await card.locator("img").getAttribute("alt"), "A red square");
  assert.match((await card.locator("figcaption").textContent()) ?? "", /A red square/);
  await capture(b, "feed");

  // B likes (optimistic, confirmed by the gateway) and comments on the post view.
  // By keyboard: focus reaches the Like button and Enter presses it.
  await card.getByRole("button", { name: "Like" }).focus();
  await b.keyboard.press("Enter");
  await card.getByText("1 like").waitFor(WAIT);
  await card.getByRole("link", { name: /0 comments/ }).click();
  await b.getByLabel("Add a comment").fill("Lovely colours");
  await b.getByRole("button", { name: "Post comment" }).click();
  await b.getByText("Lovely colours").waitFor(WAIT);
  await capture(b, "post");
  assert.equal(await b.evaluate(() => (globalThis as unknown as { novaNoReload?: boolean }).novaNoReload), true);

  // A's open notifications screen gets both, live.
  await a.getByText(`${nameB} liked your post`).waitFor(WAIT);
  await a.getByText(`${nameB} commented on your post`).waitFor(WAIT);
  await capture(a, "notifications");

  await b.getByRole("link", { name: nameA }).first().click();
  await b.getByRole("heading", { name: nameA, level: 1 }).waitFor(WAIT);
  await b.locator(".grid img").first().waitFor(WAIT);
  await capture(b, "profile");
  await b.getByRole("button", { name: "Mute" }).click();
  await b.getByRole("button", { name: "Unmute" }).waitFor(WAIT);
  await b.getByRole("button", { name: "Block" }).click();
  await b.getByRole("button", { name: "Unblock" }).waitFor(WAIT);

  assert.deepEqual(cspViolations, [], "the client needs nothing the CSP forbids");
});

test("subscriptions: a page of this origin may open the socket, another site's may not", async () => {
  const open = (from: string) =>
    new Promise<number>((resolve) => {
      const ws = new WebSocket(`${origin.replace(/^http/, "ws")}/graphql`, "graphql-transport-ws", {
        headers: { origin: from },
      });
      ws.on("open", () => {
        ws.close();
        resolve(101);
      });
      ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.on("error", () => {});
    });
  assert.equal(await open(origin), 101);
  assert.equal(await open("https://evil.example"), 403);
});

test("the initial JavaScript (what index.html loads) stays within 200 KB gzipped", () => {
  const index = readFileSync(join(WEB_DIST, "index.html"), "utf8");
  const scripts = [...index.matchAll(/<(?:script[^>]+src|link[^>]+rel="modulepreload"[^>]+href)="\/([^"]+\.js)"/g)];
  assert.ok(scripts.length > 0, "index.html loads a script");
  const gzipped = scripts.reduce((n, m) => n + gzipSync(readFileSync(join(WEB_DIST, m[1] as string))).length, 0);
  process.stderr.write(`web client: initial JS ${(gzipped / 1024).toFixed(1)} KB gzipped\n`);
  assert.ok(gzipped <= 200 * 1024, `initial JS is ${gzipped} bytes gzipped`);
});
