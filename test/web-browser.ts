/**
 * What the browser suites share: a Nova started in this process serving the built client (persisted-only,
 * as in production), Debian's chromium, a browser context per person, axe-core and the screenshots at
 * 375 and 1280 px (test-artifacts/web/).
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import sharp from "sharp";
import { ensureWebClient } from "../src/cli/web.ts";
import type { Nova } from "../src/runtime/app.ts";
import { ROOT, startInProcess, tempDir, unique } from "./helpers.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACTS = join(ROOT, "test-artifacts", "web");
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
export const WAIT = { timeout: 30_000 };

export let nova: Nova;
export let origin: string;
let browser: Browser;
const contexts: BrowserContext[] = [];
export const cspViolations: string[] = [];

/** For `before`: the client built, Nova and the browser started. */
export async function startWeb(env: NodeJS.ProcessEnv = {}): Promise<void> {
  assert.ok(
    existsSync(CHROMIUM),
    `${CHROMIUM} is missing: the installer puts Debian's chromium there (scripts/install.ts)`,
  );
  const built = await ensureWebClient();
  if (built > 0) process.stderr.write(`web client built in ${built} ms\n`);
  const started = await startInProcess({ GATEWAY_PERSISTED_ONLY: "true", ...env });
  nova = started.nova;
  origin = started.url.replace(/\/graphql$/, "");
  const asRoot = process.getuid?.() === 0;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: asRoot ? ["--no-sandbox"] : [] });
  mkdirSync(ARTIFACTS, { recursive: true });
}

/** For `after`. */
export async function stopWeb(): Promise<void> {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await nova?.stop();
}

export async function person(colorScheme: "light" | "dark"): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme });
  contexts.push(context);
  const page = await context.newPage();
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  return page;
}

/** axe-core in the page (evaluated through the protocol, so the page's CSP needs no exception for it). */
export async function accessible(page: Page, screen: string): Promise<void> {
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
export async function capture(page: Page, screen: string): Promise<void> {
  for (const width of [375, 1280]) {
    await page.setViewportSize({ width, height: 900 });
    await accessible(page, `${screen} at ${width}px`);
    await page.screenshot({ path: join(ARTIFACTS, `${screen}-${width}.png`), fullPage: true });
  }
}

export async function signUp(page: Page, username: string, screenshots = false): Promise<void> {
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

export async function photo(color: string): Promise<string> {
  const path = join(tempDir("nova-web-"), `${color}.png`);
  await sharp({ create: { width: 640, height: 480, channels: 3, background: color } })
    .png()
    .toFile(path);
  return path;
}
