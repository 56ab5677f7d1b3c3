/**
 * Sending mail: over SMTP with nodemailer when SMTP_URL is set, otherwise into
 * a folder (embedded mode's letter_opener: each mail is written as `<id>.eml`
 * and `<id>.html`, and the HTML file's link is logged). A mail has a stable id
 * (the event it is the effect of): it becomes the Message-ID and the file name,
 * so a redelivered mail overwrites its own file and a reader can spot an SMTP
 * duplicate by its Message-ID.
 */
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import nodemailer from "nodemailer";
import type { Logger } from "pino";
import { escapeHtml, type RenderedMail } from "./templates.ts";

export interface Mail extends RenderedMail {
  /** Stable and unique (an event id): the Message-ID's local part and the file name. */
  id: string;
  to: string;
}

export interface Mailer {
  readonly kind: "smtp" | "folder";
  send(mail: Mail): Promise<void>;
  close(): void;
}

const SAFE_ID = /^[A-Za-z0-9-]{1,100}$/;

function envelopeOf(from: string, mail: Mail) {
  if (!SAFE_ID.test(mail.id)) throw new Error(`mail id must be [A-Za-z0-9-]{1,100}: ${mail.id}`);
  return {
    from,
    to: mail.to,
    subject: mail.subject,
    text: mail.text,
    html: mail.html,
    messageId: `<${mail.id}@nova>`,
  };
}

export function smtpMailer(url: string, from: string): Mailer {
  const transport = nodemailer.createTransport(url);
  return {
    kind: "smtp",
    async send(mail) {
      await transport.sendMail(envelopeOf(from, mail));
    },
    close: () => transport.close(),
  };
}

/** The folder mailer: `<dir>/<id>.eml` (the whole message) and `<dir>/<id>.html` (to open in a browser). */
export function folderMailer(dir: string, from: string, log?: Logger): Mailer {
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: "unix" });
  return {
    kind: "folder",
    async send(mail) {
      const info = await transport.sendMail(envelopeOf(from, mail));
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const write = (name: string, body: string | Buffer) => {
        const tmp = join(dir, `.${name}.tmp`);
        writeFileSync(tmp, body, { mode: 0o600 });
        renameSync(tmp, join(dir, name));
      };
      write(`${mail.id}.eml`, info.message as Buffer);
      const head = `<p><b>To:</b> ${escapeHtml(mail.to)}<br><b>Subject:</b> ${escapeHtml(mail.subject)}</p><hr>`;
      write(`${mail.id}.html`, `<!doctype html><meta charset="utf-8">${head}${mail.html}`);
      const link = pathToFileURL(join(dir, `${mail.id}.html`)).href;
      log?.info({ mail: mail.id, to: mail.to, subject: mail.subject, link }, `mail written: ${link}`);
    },
    close: () => transport.close(),
  };
}

/** SMTP when a URL is given, otherwise the folder. */
export function createMailer(opts: { smtpUrl?: string; folder: string; from: string; log?: Logger }): Mailer {
  return opts.smtpUrl ? smtpMailer(opts.smtpUrl, opts.from) : folderMailer(opts.folder, opts.from, opts.log);
}
