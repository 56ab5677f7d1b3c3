/**
 * The web client in a real browser (Debian's chromium, driven by playwright-core) against a Nova
 * started in this process that serves the built client, in persisted-only mode as in production.
 * Two people, each a browser context: A signs up and posts two photos with alt text; B signs up,
 * follows A and sees the post arrive in the open feed (feedUpdated, no reload); B likes and comments,
 * and A's notifications screen shows both live. axe-core checks each screen (no serious or critical
 * violations); screenshots of each screen at 375 and 1280 px go to test-artifacts/web/.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { gzipSync } from "node:zlib";
import { WebSocket } from "ws";
import { WEB_DIST } from "../src/gateway/web.ts";
import { unique } from "./helpers.ts";
import { capture, cspViolations, origin, person, photo, signUp, startWeb, stopWeb, WAIT } from "./web-browser.ts";

before(() => startWeb());
after(stopWeb);

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
