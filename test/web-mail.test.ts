/**
 * The mail links in the browser, with email verification required (as in production) and the mail
 * read from Mailpit: sign up -> "check your email" -> the link signs the account in; an email change
 * is confirmed by the link mailed to the new address; a forgotten password is reset through its link
 * and the new one signs in.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Page } from "playwright-core";
import { services, unique } from "./helpers.ts";
import { tokenIn, waitForMail } from "./mailpit.ts";
import { capture, origin, person, startWeb, stopWeb, WAIT } from "./web-browser.ts";

const PASSWORD = "correct-Horse-battery-9";
let mailpit: string;

before(async () => {
  const s = await services();
  mailpit = s.mailpit;
  await startWeb({
    SMTP_URL: s.smtp,
    MAIL_FROM: "Nova <no-reply@nova.test>",
    PUBLIC_URL: "https://nova.test",
    IDENTITY_REQUIRE_VERIFIED_EMAIL: "true",
  });
});
after(stopWeb);

/** The mail's link, opened on this test's origin (the mail names PUBLIC_URL's). */
async function follow(page: Page, to: string, subject: RegExp, path: string, count = 1): Promise<void> {
  const mails = await waitForMail(mailpit, to, { subject, count, timeoutMs: 30_000 });
  const mail = mails[mails.length - 1];
  assert.ok(mail);
  assert.match(mail.Text, new RegExp(`https://nova\\.test${path}\\?token=`));
  await page.goto(`${origin}${path}?token=${tokenIn(mail)}`);
}

test("verify by the mailed link, change the email address, reset a forgotten password", async () => {
  const page = await person("light");
  const name = unique("vm").toLowerCase();
  const email = `${name}@example.com`;
  await page.goto(`${origin}/signup`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Username").fill(name);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.getByRole("heading", { name: "Check your email", level: 1 }).waitFor(WAIT);

  await follow(page, email, /^Verify/, "/verify-email");
  await page.getByRole("heading", { name: "Home", level: 1 }).waitFor(WAIT);

  // A new address: the link goes to it, and opening it makes it the account's.
  const newEmail = `${unique("nm").toLowerCase()}@example.com`;
  await page.getByRole("navigation").getByRole("link", { name: "Settings" }).click();
  await page.getByLabel("New email address").fill(newEmail);
  await page.getByLabel("Password (to change the email address)").fill("not-the-password");
  await page.getByRole("button", { name: "Send confirmation link" }).click();
  await page.locator("[data-field-error=email-password]").waitFor(WAIT);
  await page.getByLabel("Password (to change the email address)").fill(PASSWORD);
  await page.getByRole("button", { name: "Send confirmation link" }).click();
  await page.getByText(`We sent a link to ${newEmail}.`).waitFor(WAIT);
  await follow(page, newEmail, /./, "/confirm-email");
  await page.getByText(`Your email address is now ${newEmail}.`).waitFor(WAIT);
  await capture(page, "confirm-email");

  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await page.getByRole("link", { name: "Forgot your password?" }).click();
  await page.getByLabel("Email").fill(newEmail);
  await page.getByRole("button", { name: "Send reset link" }).click();
  await page.getByText(/has an account, a reset link is on its way/).waitFor(WAIT);
  await follow(page, newEmail, /password/i, "/reset-password");
  const newPassword = "another-Horse-battery-1";
  await page.getByLabel("New password").fill(newPassword);
  await page.getByRole("button", { name: "Set password" }).click();
  await page.getByText(/Your password is changed/).waitFor(WAIT);

  await page.getByRole("link", { name: "Have an account? Sign in" }).click();
  await page.getByLabel("Username or email").fill(name);
  await page.getByLabel("Password").fill(newPassword);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Home", level: 1 }).waitFor(WAIT);
});
