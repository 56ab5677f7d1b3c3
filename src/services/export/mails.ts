/** The mail the export module sends: the archive is ready (text + HTML; placeholders HTML-escaped). */
import type { MailTemplate } from "../../platform/mail/templates.ts";

const layout = (body: string) =>
  `<!doctype html><html><body style="font-family:sans-serif;max-width:32em">${body}<p style="color:#888">— Nova</p></body></html>`;

export const EXPORT_READY_MAIL: MailTemplate = {
  subject: "Your Nova data archive is ready",
  text: `Hi {{name}},

The archive of your Nova data (@{{username}}) you asked for on {{requested}} is ready ({{size}}).
Download it with this link, which works until {{expires}}:

{{link}}

Anyone with the link can download the archive: do not share it. If you did not ask for it,
reset your password now: {{resetLink}}
`,
  html: layout(`<p>Hi {{name}},</p>
<p>The archive of your Nova data (@{{username}}) you asked for on {{requested}} is ready ({{size}}).
The link works until {{expires}}:</p>
<p><a href="{{link}}">Download my archive</a></p>
<p>Anyone with the link can download the archive: do not share it. If you did not ask for it,
<a href="{{resetLink}}">reset your password now</a>.</p>`),
};
