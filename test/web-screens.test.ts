/**
 * The web client's second set of screens in a real browser, people as browser contexts at once:
 * messages (A writes to B, B sees it live, the read receipt reaches A, B answers with a photo; a
 * refused message is taken back), search suggestions as you type and explore's trending hashtags,
 * settings (a password change then signing in with the new one; two-factor enrolment with a code
 * computed here, then signing in with a second code), and a report that a moderator (a fourth
 * account, its role set in the database) works from the queue, the post then gone for everyone;
 * a private account's follow request approved from settings, its data archive's link, and an account
 * deletion refused with a wrong password, scheduled, then cancelled.
 * axe-core checks each screen; screenshots go to test-artifacts/web/.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { generate } from "otplib";
import pg from "pg";
import type { Page } from "playwright-core";
import { services, unique } from "./helpers.ts";
import { accessible, capture, cspViolations, origin, person, photo, startWeb, stopWeb, WAIT } from "./web-browser.ts";

const PASSWORD = "correct-Horse-battery-9";
let db: pg.Pool;

before(async () => {
  await startWeb();
  db = new pg.Pool({ connectionString: (await services()).postgres, max: 2 });
});
after(async () => {
  await db?.end();
  await stopWeb();
});

async function join(page: Page, username: string, password = PASSWORD): Promise<void> {
  await page.goto(`${origin}/signup`);
  await page.getByLabel("Email").fill(`${username}@example.com`);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.getByRole("heading", { name: "Home", level: 1 }).waitFor(WAIT);
}

async function signIn(page: Page, username: string, password: string): Promise<void> {
  await page.goto(`${origin}/signin`);
  await page.getByLabel("Username or email").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

async function signOut(page: Page): Promise<void> {
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await page.getByRole("heading", { name: "Sign in", level: 1 }).waitFor(WAIT);
}

/** Through the app's own links: the page is not reloaded. */
async function open(page: Page, link: string, heading: string | RegExp): Promise<void> {
  await page.getByRole("navigation").getByRole("link", { name: link, exact: true }).click();
  await page.getByRole("heading", { name: heading, level: 1 }).waitFor(WAIT);
}

async function share(page: Page, caption: string, color: string, alt: string): Promise<void> {
  await open(page, "New post", "New post");
  await page.getByLabel("Caption").fill(caption);
  await page.getByLabel("Add photos").setInputFiles([await photo(color)]);
  await page.getByLabel("Description of photo 1 (alt text)").fill(alt);
  await page.getByRole("button", { name: "Share" }).click();
  await page.getByRole("heading", { name: caption, level: 1 }).waitFor(WAIT);
}

test("messages: A writes to B, B reads it live, the read receipt reaches A, B answers with a photo", async () => {
  const a = await person("light");
  const b = await person("dark");
  const nameA = unique("ma").toLowerCase();
  const nameB = unique("mb").toLowerCase();
  await join(a, nameA);
  await join(b, nameB);

  await open(b, "Messages", "Messages");
  await a.goto(`${origin}/u/${nameB}`);
  await a.getByRole("button", { name: "Message", exact: true }).click();
  await a.getByRole("heading", { name: nameB, level: 1 }).waitFor(WAIT);

  // Too long (more than 4,000 characters): shown at once, then taken back with the coded error beside the field.
  await a.getByLabel("Message", { exact: true }).fill("x".repeat(4_001));
  await a.getByRole("button", { name: "Send" }).click();
  const tooLong = a.locator("[data-field-error=message]");
  await tooLong.waitFor(WAIT);
  assert.match((await tooLong.textContent()) ?? "", /^Please check the text: /);
  assert.equal(await a.locator(".messages li").count(), 0, "the refused message is taken back");
  assert.equal((await a.getByLabel("Message", { exact: true }).inputValue()).length, 4_001, "its text is put back");

  await a.getByLabel("Message", { exact: true }).fill("Hello B");
  await a.getByRole("button", { name: "Send" }).click();
  await a.locator(".messages li.mine:not(.pending)", { hasText: "Hello B" }).waitFor(WAIT);

  // B's open inbox shows the conversation arrive (unread), live.
  const row = b.getByRole("link", { name: new RegExp(nameA) });
  await row.waitFor(WAIT);
  await b.locator(".conversations li.unread").waitFor(WAIT);
  assert.match((await b.getByTestId("unread-messages").textContent()) ?? "", /1 conversation with unread messages/);
  await capture(b, "messages");
  await row.click();
  await b.getByText("Hello B").waitFor(WAIT);
  await b.getByTestId("unread-messages").waitFor({ state: "detached", ...WAIT });

  // B has read it: A's open conversation says so without a reload.
  await a.getByTestId("seen").waitFor(WAIT);
  assert.equal(await a.getByTestId("seen").textContent(), `Seen by ${nameB}`);

  // B answers with a photo (private message media); it arrives at A live, with its alt text.
  await b.getByLabel("Message", { exact: true }).fill("Here is red");
  await b.getByLabel("Attach a photo").setInputFiles([await photo("#d03030")]);
  await b.getByLabel("Description of the photo (alt text)").fill("A red square");
  await b.getByRole("button", { name: "Send" }).click();
  await a.getByText("Here is red").waitFor(WAIT);
  const img = a.locator(".messages img[alt='A red square']");
  await img.waitFor(WAIT);
  // The signed, private URL loads (the page's CSP and the media route let it).
  const loaded = `(() => { const el = document.querySelector(".messages img[alt='A red square']"); return !!el && el.complete && el.naturalWidth > 0; })()`;
  await a.waitForFunction(loaded, undefined, WAIT);
  await capture(a, "conversation");
  assert.deepEqual(cspViolations, []);
});

test("a group of three: messages arrive live for both others, receipts name who read; likes group into one live notification", async () => {
  const a = await person("light");
  const b = await person("dark");
  const c = await person("light");
  const nameA = unique("ga").toLowerCase();
  const nameB = unique("gb").toLowerCase();
  const nameC = unique("gc").toLowerCase();
  await join(a, nameA);
  await join(b, nameB);
  await join(c, nameC);
  await share(a, "Group photo", "#d0a030", "A yellow square");
  const postUrl = a.url();

  await open(a, "Messages", "Messages");
  await a.getByLabel("To (usernames, separated by commas)").fill(`${nameB}, @${nameC}, nobody_${nameA.slice(3)}`);
  await a.getByRole("button", { name: "Start conversation" }).click();
  const unknown = a.locator("[data-field-error=to]");
  await unknown.waitFor(WAIT);
  assert.equal(await unknown.textContent(), `There is no account named nobody_${nameA.slice(3)}.`);
  await a.getByLabel("To (usernames, separated by commas)").fill(`${nameB}, @${nameC}`);
  await a.getByRole("button", { name: "Start conversation" }).click();
  await a.getByRole("heading", { name: `${nameB}, ${nameC}`, level: 1 }).waitFor(WAIT);
  await a.getByText("Group of 3").waitFor(WAIT);
  const conversationUrl = a.url();

  for (const page of [b, c]) await page.goto(conversationUrl);
  await a.getByLabel("Message", { exact: true }).fill("Hello both");
  await a.getByRole("button", { name: "Send" }).click();
  for (const page of [b, c]) {
    await page.locator(".messages li", { hasText: "Hello both" }).waitFor(WAIT);
    assert.equal(await page.locator(".messages li .who").first().textContent(), nameA);
  }
  await a.getByTestId("seen").filter({ hasText: nameB }).filter({ hasText: nameC }).waitFor(WAIT);

  // A watches the notifications; B and C like the post: one notification, regrouped live.
  await open(a, "Notifications", "Notifications");
  for (const page of [b, c]) {
    await page.goto(postUrl);
    await page.getByRole("button", { name: "Like" }).click();
    await page.getByRole("button", { name: "Unlike" }).waitFor(WAIT);
  }
  const grouped = a.getByRole("link", { name: /and 1 other liked your post$/ });
  await grouped.waitFor(WAIT);
  assert.equal(await a.getByRole("link", { name: /liked your post$/ }).count(), 1, "one notification for both likes");
  // The group message's notification leads to the conversation.
  await b.goto(`${origin}/notifications`);
  await b.getByRole("link", { name: `${nameA} sent you a message` }).click();
  await b.getByRole("heading", { name: new RegExp(nameA), level: 1 }).waitFor(WAIT);
});

test("search suggests as you type; explore shows the trending hashtag; a tag opens its posts", async () => {
  const a = await person("light");
  const b = await person("dark");
  const nameA = unique("sa").toLowerCase();
  const tag = `kite${randomBytes(5).toString("hex")}`;
  await join(a, nameA);
  await join(b, unique("sb").toLowerCase());
  await share(a, `Flying #${tag}`, "#30a050", "A green square");

  await open(b, "Search", "Search");
  const box = b.getByRole("combobox", { name: "Search people, posts and #hashtags" });
  // The search index follows sign-ups and posts through events: type again until the suggestion is there.
  const suggest = async (typed: string, option: string) => {
    for (let i = 0; i < 30; i++) {
      await box.fill("");
      await box.pressSequentially(typed, { delay: 30 });
      const found = b.getByRole("option", { name: option });
      if (
        await found.waitFor({ timeout: 2_000 }).then(
          () => true,
          () => false,
        )
      )
        return;
    }
    assert.fail(`no suggestion ${option} for ${typed}`);
  };
  await suggest(`@${nameA.slice(0, 6)}`, `@${nameA}`);
  assert.equal(await box.getAttribute("aria-expanded"), "true");
  await capture(b, "search-suggestions");
  await box.press("ArrowDown");
  assert.match((await box.getAttribute("aria-activedescendant")) ?? "", /^suggestion-/);
  assert.match((await b.getByRole("option", { selected: true }).textContent()) ?? "", new RegExp(`^@${nameA}`));
  await box.press("Enter");
  await b.getByRole("heading", { name: nameA, level: 1 }).waitFor(WAIT);

  await open(b, "Search", "Search");
  await suggest(`#${tag.slice(0, 10)}`, `#${tag}`);
  await box.press("ArrowDown");
  assert.match((await b.getByRole("option", { selected: true }).textContent()) ?? "", new RegExp(`^#${tag}`));
  await box.press("Enter");
  await b.getByRole("heading", { name: `#${tag}`, level: 1 }).waitFor(WAIT);
  await b.locator(".grid img[alt='A green square']").waitFor(WAIT);

  // Explore: the hashtag trends (its score is kept by a consumer: reload until it is in).
  await open(b, "Explore", "Explore");
  const trending = b.getByRole("link", { name: `#${tag}` });
  for (let i = 0; i < 30 && !(await trending.isVisible()); i++) {
    await b.reload();
    await b.getByRole("heading", { name: "Explore", level: 1 }).waitFor(WAIT);
    await trending.waitFor({ timeout: 1_000 }).catch(() => {});
  }
  await trending.waitFor(WAIT);
  await capture(b, "explore");

  // A full search for posts by a word of the caption.
  await open(b, "Search", "Search");
  await box.fill(tag);
  await box.press("Enter");
  await b.getByRole("article", { name: `Post by ${nameA}` }).waitFor(WAIT);
});

test("settings: a wrong and a short password are told beside their fields; the new password signs in; two-factor enrolment and sign-in", async () => {
  const a = await person("dark");
  const name = unique("st").toLowerCase();
  await join(a, name);
  await open(a, "Settings", "Settings");
  await capture(a, "settings");

  await a.getByLabel("Current password", { exact: true }).first().fill("not-the-password");
  await a.getByLabel("New password").fill("another-Horse-battery-1");
  await a.getByRole("button", { name: "Change password" }).click();
  const wrong = a.locator("[data-field-error=currentPassword]");
  await wrong.waitFor(WAIT);
  assert.match((await wrong.textContent()) ?? "", /^Please check the current password: /);

  await a.getByLabel("Current password", { exact: true }).first().fill(PASSWORD);
  await a.getByLabel("New password").fill("short");
  await a.getByRole("button", { name: "Change password" }).click();
  const short = a.locator("[data-field-error=newPassword]");
  await short.waitFor(WAIT);
  assert.match((await short.textContent()) ?? "", /^Please check the new password: /);

  const newPassword = "another-Horse-battery-1";
  await a.getByLabel("New password").fill(newPassword);
  await a.getByRole("button", { name: "Change password" }).click();
  await a.getByText(/^Password changed\./).waitFor(WAIT);

  await signOut(a);
  await signIn(a, name, PASSWORD);
  await a.locator(".auth .error").waitFor(WAIT);
  await signIn(a, name, newPassword);
  await a.getByRole("heading", { name: "Home", level: 1 }).waitFor(WAIT);

  // Two-factor: the password, the QR code and key, a first code made here as an authenticator app would.
  await open(a, "Settings", "Settings");
  const section = a.getByRole("region", { name: "Two-factor sign-in" });
  await section.getByLabel("Current password").fill(newPassword);
  await section.getByRole("button", { name: "Set up two-factor sign-in" }).click();
  await section.getByRole("img", { name: "QR code for your authenticator app" }).waitFor(WAIT);
  const secret = (await a.getByTestId("totp-secret").textContent()) ?? "";
  assert.ok(secret.length >= 16, "the key is shown to type in");
  await capture(a, "settings-two-factor");
  await section.getByLabel("Code from the app").fill("000000");
  await section.getByRole("button", { name: "Turn on" }).click();
  await a.locator("[data-field-error=code]").waitFor(WAIT);
  await section.getByLabel("Code from the app").fill(await generate({ secret }));
  await section.getByRole("button", { name: "Turn on" }).click();
  await section.getByRole("list", { name: "Recovery codes" }).waitFor(WAIT);
  const codes = section.getByRole("list", { name: "Recovery codes" }).getByRole("listitem");
  assert.equal(await codes.count(), 10);
  const recovery = ((await codes.first().textContent()) ?? "").trim();

  // Sessions: signing out ended the first one, so only this browser's is listed; a second browser
  // signed in as the same person is ended from here and finds itself signed out.
  const sessions = a.getByTestId("sessions").getByRole("listitem");
  await sessions.getByText("(this browser)").waitFor(WAIT);
  assert.equal(await sessions.count(), 1, "sign-out ended the earlier session");
  const other = await person("light");
  await signIn(other, name, newPassword);
  await other.getByRole("heading", { name: "Two-factor sign-in", level: 1 }).waitFor(WAIT);
  await other.getByLabel("Code").fill(recovery);
  await other.getByRole("button", { name: "Verify" }).click();
  await other.getByRole("heading", { name: "Home", level: 1 }).waitFor(WAIT);
  await a.reload();
  await sessions.nth(1).waitFor(WAIT);
  await a
    .getByTestId("sessions")
    .getByRole("button", { name: /^Sign out (?!this browser)/ })
    .click();
  await sessions.nth(1).waitFor({ state: "detached", ...WAIT });
  await other.getByRole("navigation").getByRole("link", { name: "Settings", exact: true }).click();
  await other.getByRole("heading", { name: "Sign in", level: 1 }).waitFor(WAIT);

  await signOut(a);
  await signIn(a, name, newPassword);
  await a.getByRole("heading", { name: "Two-factor sign-in", level: 1 }).waitFor(WAIT);
  await capture(a, "signin-two-factor");
  // The code of the step after enrolment's (a used step is refused; one step either side is accepted).
  await a.getByLabel("Code").fill(await generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 }));
  await a.getByRole("button", { name: "Verify" }).click();
  await a.getByRole("heading", { name: "Home", level: 1 }).waitFor(WAIT);
});

test("settings: muted words and the blocked and muted lists, undone from there", async () => {
  const a = await person("light");
  const nameB = unique("lb").toLowerCase();
  const b = await person("light");
  await join(b, nameB);
  await join(a, unique("la").toLowerCase());
  await a.goto(`${origin}/u/${nameB}`);
  await a.getByRole("button", { name: "Mute" }).click();
  await a.getByRole("button", { name: "Unmute" }).waitFor(WAIT);
  await a.getByRole("button", { name: "Block" }).click();
  await a.getByRole("button", { name: "Unblock" }).waitFor(WAIT);
  await open(a, "Settings", "Settings");

  await a.getByLabel("Word or phrase to mute").fill("spoilers");
  await a.getByRole("button", { name: "Mute", exact: true }).click();
  await a.getByRole("button", { name: "Remove spoilers" }).waitFor(WAIT);
  await a.getByRole("button", { name: `Unblock ${nameB}` }).waitFor(WAIT);
  await a.getByRole("button", { name: `Unmute ${nameB}` }).waitFor(WAIT);
  await capture(a, "settings-lists");

  await a.getByRole("button", { name: "Remove spoilers" }).click();
  await a.getByRole("button", { name: `Unblock ${nameB}` }).click();
  await a.getByRole("button", { name: `Unmute ${nameB}` }).click();
  await a.getByText("No muted words.").waitFor(WAIT);
  // A fresh load agrees: the undoing reached the server.
  await a.reload();
  await a.getByText("You block no one.").waitFor(WAIT);
  await a.getByText("You mute no one.").waitFor(WAIT);
  await a.getByText("No muted words.").waitFor(WAIT);
});

test("a report from the dialog reaches the moderation queue; the moderator removes the post for everyone", async () => {
  const author = await person("light");
  const reporter = await person("dark");
  const mod = await person("light");
  const nameA = unique("ra").toLowerCase();
  const nameM = unique("rm").toLowerCase();
  await join(author, nameA);
  await join(reporter, unique("rc").toLowerCase());
  await join(mod, nameM);
  await share(author, "Buy cheap watches", "#808080", "A grey square");
  const postUrl = author.url();

  await reporter.goto(postUrl);
  await reporter.getByRole("button", { name: "Report post" }).click();
  const dialog = reporter.getByRole("dialog", { name: "Report post" });
  await dialog.waitFor(WAIT);
  await capture(reporter, "report-dialog");
  await dialog.getByLabel("Spam").check();
  await dialog.getByLabel("Anything to add? (optional)").fill("Watch spam");
  await dialog.getByRole("button", { name: "Send report" }).click();
  await dialog.getByText("Thank you. A moderator will look at it.").waitFor(WAIT);
  // By keyboard: Escape closes the dialog and focus goes back to the button that opened it.
  await reporter.keyboard.press("Escape");
  await dialog.waitFor({ state: "hidden", ...WAIT });
  assert.equal(await reporter.evaluate("document.activeElement?.textContent?.trim()"), "Report post");

  // Not a moderator: the queue says so.
  await mod.goto(`${origin}/moderation`);
  await mod.getByText("You are not allowed to do that.").waitFor(WAIT);

  // The role is read at sign-in: a moderator signs in again.
  await db.query("UPDATE identity.users SET role = 'moderator' WHERE username = $1", [nameM]);
  await signOut(mod);
  await signIn(mod, nameM, PASSWORD);
  await mod.getByRole("heading", { name: "Home", level: 1 }).waitFor(WAIT);
  await mod.goto(`${origin}/moderation`);
  const entry = mod.getByRole("listitem").filter({ has: mod.getByRole("heading", { name: `Post of ${nameA}` }) });
  await entry.waitFor(WAIT);
  await entry.getByText("Watch spam").waitFor(WAIT);
  await capture(mod, "moderation");
  await entry.getByLabel("Action").selectOption("REMOVE");
  await entry.getByRole("button", { name: "Apply" }).click();
  // A reason is required: the coded error is beside it, and the entry is back.
  await entry.locator("[data-field-error$=reason]").waitFor(WAIT);
  await entry.getByLabel("Reason (the owner is told)").fill("Spam");
  await entry.getByRole("button", { name: "Apply" }).click();
  await entry.waitFor({ state: "detached", ...WAIT });

  // The removal reaches the posts' store (and its cache) through an event: load again until it has.
  for (const page of [reporter, author]) {
    const gone = page.getByRole("heading", { name: "This post is not available.", level: 1 });
    for (let i = 0; i < 30; i++) {
      await page.goto(postUrl);
      await page.getByRole("heading", { level: 1 }).waitFor(WAIT);
      if (await gone.isVisible()) break;
      await page.waitForTimeout(500);
    }
    await gone.waitFor(WAIT);
  }

  // The author is told what was done and why, and appeals once; the reporter learns the outcome.
  // (The nav link's name carries the unread count: go by address.)
  await author.goto(`${origin}/notifications`);
  await author.getByRole("heading", { name: "Notifications", level: 1 }).waitFor(WAIT);
  const notice = author.getByRole("listitem").filter({ hasText: "A moderator acted on your account or content" });
  await notice.getByText("Remove", { exact: true }).waitFor(WAIT);
  await notice.getByText("Reason: Spam").waitFor(WAIT);
  await notice.getByRole("button", { name: "Appeal this decision" }).click();
  await notice.getByRole("button", { name: "Send appeal" }).click();
  await notice.locator("[data-field-error^=statement]").waitFor(WAIT);
  await notice.getByLabel("Why the decision is wrong (another moderator decides)").fill("It was a real offer.");
  await notice.getByRole("button", { name: "Send appeal" }).click();
  await notice.getByText("Your appeal was sent. Another moderator will decide.").waitFor(WAIT);
  await capture(author, "moderation-notice");
  await reporter.goto(`${origin}/notifications`);
  await reporter.getByText("A moderator acted on something you reported. Thank you.").waitFor(WAIT);
});

test("a content warning folds the post until opened; sensitive photos are blurred unless the viewer chose otherwise", async () => {
  const author = await person("light");
  const viewer = await person("dark");
  const nameA = unique("cwa").toLowerCase();
  await join(author, nameA);
  await join(viewer, unique("cwv").toLowerCase());
  await open(author, "New post", "New post");
  await author.getByLabel("Caption").fill("Surgery pictures");
  await author.getByLabel("Add photos").setInputFiles([await photo("#aa3333")]);
  await author.getByLabel("Description of photo 1 (alt text)").fill("A red square");
  await author.getByLabel("Content warning (optional; the post stays folded behind it)").fill("x".repeat(201));
  await author.getByRole("button", { name: "Share" }).click();
  // Too long: the coded error is beside the field, nothing was posted.
  await author.locator("[data-field-error=contentWarning]").waitFor(WAIT);
  await author.getByLabel("Content warning (optional; the post stays folded behind it)").fill("Medical, blood");
  await author.getByRole("button", { name: "Share" }).click();
  await author.getByText("Medical, blood").waitFor(WAIT);
  const postUrl = author.url();
  assert.match(postUrl, /\/p\//);

  await viewer.goto(postUrl);
  const post = viewer.getByRole("article");
  await post.getByText("Medical, blood").waitFor(WAIT);
  assert.equal(await post.getByText("Surgery pictures").count(), 0, "the caption is folded");
  assert.equal(await post.getByRole("img").count(), 0, "the photos are folded");
  await accessible(viewer, "content warning");
  await capture(viewer, "content-warning");
  await post.getByRole("button", { name: "Show post" }).click();
  await post.getByText("Surgery pictures").waitFor(WAIT);
  const img = post.getByRole("img", { name: "A red square" });
  await img.waitFor(WAIT);
  assert.match((await img.getAttribute("class")) ?? "", /blurred/, "a warned post's photos are sensitive: blurred");
  await post.getByRole("button", { name: "Hide post" }).click();
  await post.getByText("Surgery pictures").waitFor({ state: "detached", ...WAIT });

  // The viewer chooses to see sensitive photos: the same post, opened, is not blurred.
  await open(viewer, "Settings", "Settings");
  await viewer.getByLabel("Show sensitive photos without blurring them").check();
  await viewer.getByRole("button", { name: "Save profile" }).click();
  await viewer.getByText("Saved.").first().waitFor(WAIT);
  await viewer.goto(postUrl);
  await viewer.getByRole("article").getByRole("button", { name: "Show post" }).click();
  const shown = viewer.getByRole("img", { name: "A red square" });
  await shown.waitFor(WAIT);
  assert.doesNotMatch((await shown.getAttribute("class")) ?? "", /blurred/);
  assert.deepEqual(cspViolations, []);
});

test("password reset and email verification screens: a bad link is a sentence, a reset request is answered", async () => {
  const page = await person("dark");
  await page.goto(`${origin}/signin`);
  await page.getByRole("link", { name: "Forgot your password?" }).click();
  await page.getByRole("heading", { name: "Reset your password", level: 1 }).waitFor(WAIT);
  await page.getByLabel("Email").fill("nobody@example.com");
  await page.getByRole("button", { name: "Send reset link" }).click();
  await page.getByText(/If nobody@example.com has an account/).waitFor(WAIT);
  await capture(page, "forgot-password");

  await page.goto(`${origin}/reset-password?token=not-a-token`);
  await page.getByLabel("New password").fill("another-Horse-battery-1");
  await page.getByRole("button", { name: "Set password" }).click();
  const bad = page.locator("[data-field-error=token]");
  await bad.waitFor(WAIT);
  assert.match((await bad.textContent()) ?? "", /^Please check the link: /);
  await capture(page, "reset-password");

  await page.goto(`${origin}/verify-email?token=not-a-token`);
  await page.locator("[data-field-error=token]").waitFor(WAIT);
  assert.match((await page.locator("[data-field-error=token]").textContent()) ?? "", /^Please check the link: /);
});

test("privacy, data export and deletion: a follow request approved from settings; the archive's link; a deletion scheduled and cancelled", async () => {
  const a = await person("light");
  const b = await person("dark");
  const nameA = unique("pa").toLowerCase();
  const nameB = unique("pb").toLowerCase();
  await join(a, nameA);
  await join(b, nameB);
  await share(a, "Only for friends", "#3060d0", "A blue square");

  await open(a, "Settings", "Settings");
  const privacy = a.getByRole("region", { name: "Privacy" });
  await privacy.getByLabel("Private account", { exact: true }).check();
  await privacy.getByRole("button", { name: "Save privacy" }).click();
  await privacy.getByText("Your account is private.").waitFor(WAIT);

  // B asks to follow: the button says so and the profile says why the photos are missing.
  await b.goto(`${origin}/u/${nameA}`);
  await b.getByTestId("private-account").waitFor(WAIT);
  assert.equal(await b.locator(".grid img").count(), 0, "a private account's photos are not shown");
  await b.getByRole("button", { name: "Follow", exact: true }).click();
  await b.getByRole("button", { name: "Requested", exact: true }).waitFor(WAIT);
  assert.match((await b.getByTestId("private-account").textContent()) ?? "", /This account is private/);
  await capture(b, "profile-private");

  // A's notification of the request leads to the list in settings, where A approves it.
  // (The nav link's name carries the unread count: go by address.)
  await a.goto(`${origin}/notifications`);
  await a.getByRole("link", { name: `${nameB} asked to follow you` }).click();
  await a.getByRole("heading", { name: "Settings", level: 1 }).waitFor(WAIT);
  await a.getByRole("button", { name: `Approve ${nameB}` }).waitFor(WAIT);
  await capture(a, "settings-privacy");
  await a.getByRole("button", { name: `Approve ${nameB}` }).click();
  await a.getByText("No pending follow requests.").waitFor(WAIT);
  await b.reload();
  await b.getByRole("button", { name: "Unfollow", exact: true }).waitFor(WAIT);
  await b.locator(".grid img[alt='A blue square']").waitFor(WAIT);
  assert.equal(await b.getByTestId("private-account").count(), 0);

  // The archive is built in the background: a reload shows it READY with its signed link and expiry.
  const data = a.getByRole("region", { name: "Your data" });
  await data.getByRole("button", { name: "Download your data" }).click();
  await data.getByTestId("export-status").waitFor(WAIT);
  const download = data.getByRole("link", { name: /^Download the archive/ });
  const deadline = Date.now() + 90_000;
  while (!(await download.count())) {
    assert.ok(Date.now() < deadline, "the archive became READY");
    await a.waitForTimeout(2_000);
    await a.reload();
    await data.getByTestId("export-status").waitFor(WAIT);
  }
  assert.equal(await data.getByTestId("export-status").textContent(), "Your archive is ready.");
  assert.match((await download.getAttribute("href")) ?? "", /signature=/);
  await data.getByText(/^The link works until /).waitFor(WAIT);
  const zip = await a.request.get(new URL((await download.getAttribute("href")) ?? "", origin).toString());
  assert.equal(zip.status(), 200, "the link downloads the archive");

  // Deletion: a wrong password is told beside its field; the right one schedules it, then it is cancelled.
  const deletion = a.getByRole("region", { name: "Delete account" });
  await deletion.getByLabel("Password (to delete the account)").fill("not-the-password");
  await deletion.getByRole("button", { name: "Delete my account" }).click();
  const wrong = a.locator("[data-field-error=delete-password]");
  await wrong.waitFor(WAIT);
  assert.match((await wrong.textContent()) ?? "", /password/i);
  await deletion.getByLabel("Password (to delete the account)").fill(PASSWORD);
  await deletion.getByRole("button", { name: "Delete my account" }).click();
  await deletion.getByTestId("deletion-scheduled").waitFor(WAIT);
  assert.match((await deletion.getByTestId("deletion-scheduled").textContent()) ?? "", /will be erased on \S/);
  // The date is the account's (me.deletionScheduledAt): a fresh load still shows it.
  await a.reload();
  await deletion.getByTestId("deletion-scheduled").waitFor(WAIT);
  await capture(a, "settings-deletion");
  await deletion.getByRole("button", { name: "Cancel deletion" }).click();
  await deletion.getByText("Deletion cancelled: your account stays.").waitFor(WAIT);
  await a.reload();
  await deletion.getByRole("button", { name: "Delete my account" }).waitFor(WAIT);
});
