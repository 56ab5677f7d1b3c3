/** The mails identity sends, one template per account event (text + HTML; placeholders HTML-escaped). */
import type { MailTemplate } from "../../platform/mail/templates.ts";
import type { AccountEventType } from "./events.ts";

const layout = (body: string) =>
  `<!doctype html><html><body style="font-family:sans-serif;max-width:32em">${body}<p style="color:#888">— Nova</p></body></html>`;

/** Every account event is mailed but the erasure's: by then the address is gone too. */
export type MailedEventType = Exclude<AccountEventType, "AccountErased">;

export const MAILS: Record<MailedEventType, MailTemplate> = {
  VerificationRequested: {
    subject: "Verify your email address for Nova",
    text: `Hi {{name}},

Confirm that {{email}} is your address by opening this link (it works once, for 24 hours):

{{link}}

If you did not sign up for Nova, ignore this mail.
`,
    html: layout(`<p>Hi {{name}},</p>
<p>Confirm that {{email}} is your address (the link works once, for 24 hours):</p>
<p><a href="{{link}}">Verify my address</a></p>
<p>If you did not sign up for Nova, ignore this mail.</p>`),
  },
  PasswordResetRequested: {
    subject: "Reset your Nova password",
    text: `Hi {{name}},

Someone asked to reset the password of your Nova account. To choose a new one, open this link
(it works once, for 30 minutes):

{{link}}

If it was not you, ignore this mail: your password stays as it is.
`,
    html: layout(`<p>Hi {{name}},</p>
<p>Someone asked to reset the password of your Nova account. To choose a new one (the link works once, for 30 minutes):</p>
<p><a href="{{link}}">Reset my password</a></p>
<p>If it was not you, ignore this mail: your password stays as it is.</p>`),
  },
  PasswordChanged: {
    subject: "Your Nova password was changed",
    text: `Hi {{name}},

The password of your Nova account was {{how}} on {{when}}. {{sessions}}

If it was not you, reset your password now: {{resetLink}}
`,
    html: layout(`<p>Hi {{name}},</p>
<p>The password of your Nova account was {{how}} on {{when}}. {{sessions}}</p>
<p>If it was not you, <a href="{{resetLink}}">reset your password now</a>.</p>`),
  },
  SignUpAttemptWithExistingEmail: {
    subject: "Someone tried to sign up for Nova with your address",
    text: `Hi {{name}},

Someone tried to create a Nova account with {{email}}, which already has an account (@{{username}}).
Nothing changed. If it was you, sign in instead, or reset your password: {{resetLink}}
`,
    html: layout(`<p>Hi {{name}},</p>
<p>Someone tried to create a Nova account with {{email}}, which already has an account (@{{username}}).
Nothing changed. If it was you, sign in instead, or <a href="{{resetLink}}">reset your password</a>.</p>`),
  },
  TwoFactorEnabled: {
    subject: "Two-factor sign-in is on for your Nova account",
    text: `Hi {{name}},

Two-factor sign-in was turned on for your Nova account (@{{username}}) on {{when}}. Signing in now
asks for a code from your authenticator app. Keep your recovery codes somewhere safe.

If it was not you, reset your password now: {{resetLink}}
`,
    html: layout(`<p>Hi {{name}},</p>
<p>Two-factor sign-in was turned on for your Nova account (@{{username}}) on {{when}}. Signing in now
asks for a code from your authenticator app. Keep your recovery codes somewhere safe.</p>
<p>If it was not you, <a href="{{resetLink}}">reset your password now</a>.</p>`),
  },
  TwoFactorDisabled: {
    subject: "Two-factor sign-in is off for your Nova account",
    text: `Hi {{name}},

Two-factor sign-in was turned off for your Nova account (@{{username}}) on {{when}}. Signing in now
needs only your password.

If it was not you, reset your password now: {{resetLink}}
`,
    html: layout(`<p>Hi {{name}},</p>
<p>Two-factor sign-in was turned off for your Nova account (@{{username}}) on {{when}}. Signing in now
needs only your password.</p>
<p>If it was not you, <a href="{{resetLink}}">reset your password now</a>.</p>`),
  },
  AccountDeletionRequested: {
    subject: "Your Nova account will be deleted",
    text: `Hi {{name}},

You asked for your Nova account @{{username}} to be deleted. It will be erased for good on {{eraseAt}}:
your profile, posts, comments, messages and media. Every other session was signed out.

Changed your mind? Sign in before then and the deletion is cancelled.
If it was not you, sign in and change your password: {{resetLink}}
`,
    html: layout(`<p>Hi {{name}},</p>
<p>You asked for your Nova account @{{username}} to be deleted. It will be erased for good on {{eraseAt}}:
your profile, posts, comments, messages and media. Every other session was signed out.</p>
<p>Changed your mind? Sign in before then and the deletion is cancelled.</p>
<p>If it was not you, sign in and <a href="{{resetLink}}">change your password</a>.</p>`),
  },
  AccountDeletionCancelled: {
    subject: "Your Nova account will not be deleted",
    text: `Hi {{name}},

The deletion of your Nova account @{{username}} was cancelled on {{when}}. Nothing was erased.
`,
    html: layout(`<p>Hi {{name}},</p>
<p>The deletion of your Nova account @{{username}} was cancelled on {{when}}. Nothing was erased.</p>`),
  },
  EmailChangeRequested: {
    subject: "Confirm your new address for Nova",
    text: `Hi {{name}},

Someone asked to make this address the one of the Nova account @{{username}}. To confirm, open this
link (it works once, for 24 hours):

{{link}}

If it was not you, ignore this mail: nothing changes.
`,
    html: layout(`<p>Hi {{name}},</p>
<p>Someone asked to make this address the one of the Nova account @{{username}} (the link works once, for 24 hours):</p>
<p><a href="{{link}}">Confirm my new address</a></p>
<p>If it was not you, ignore this mail: nothing changes.</p>`),
  },
  EmailChanged: {
    subject: "The address of your Nova account was changed",
    text: `Hi {{name}},

The address of your Nova account (@{{username}}) was changed to {{maskedEmail}} on {{when}}. Mail about the
account now goes there, not here.

If it was not you, reset your password now: {{resetLink}}
`,
    html: layout(`<p>Hi {{name}},</p>
<p>The address of your Nova account (@{{username}}) was changed to {{maskedEmail}} on {{when}}. Mail about the
account now goes there, not here.</p>
<p>If it was not you, <a href="{{resetLink}}">reset your password now</a>.</p>`),
  },
};
