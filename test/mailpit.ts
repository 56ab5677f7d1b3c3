/**
 * Reading mail from the harness's Mailpit through its HTTP API (messages list, message by id).
 * `services().mailpit` is the API base; a test that needs it fails when Mailpit is not running.
 */
import { setTimeout as sleep } from "node:timers/promises";

export interface MailSummary {
  ID: string;
  MessageID: string;
  Subject: string;
  To: { Address: string; Name: string }[];
  Created: string;
}

export interface MailMessage extends MailSummary {
  Text: string;
  HTML: string;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`mailpit: GET ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Every message sent to `to` (newest first), through the messages list. */
export async function messagesTo(api: string, to: string): Promise<MailSummary[]> {
  const out: MailSummary[] = [];
  for (let start = 0; ; start += 500) {
    const page = await getJson<{ messages: MailSummary[]; total: number }>(
      `${api}/api/v1/messages?start=${start}&limit=500`,
    );
    for (const m of page.messages) if (m.To.some((t) => t.Address.toLowerCase() === to.toLowerCase())) out.push(m);
    if (page.messages.length < 500) return out;
  }
}

export function message(api: string, id: string): Promise<MailMessage> {
  return getJson<MailMessage>(`${api}/api/v1/message/${encodeURIComponent(id)}`);
}

/** Waits until `to` has at least `count` messages whose subject matches; returns them in full, oldest first. */
export async function waitForMail(
  api: string,
  to: string,
  opts: { subject?: RegExp; count?: number; timeoutMs?: number } = {},
): Promise<MailMessage[]> {
  const count = opts.count ?? 1;
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  for (;;) {
    const found = (await messagesTo(api, to)).filter((m) => !opts.subject || opts.subject.test(m.Subject));
    if (found.length >= count) return Promise.all(found.reverse().map((m) => message(api, m.ID)));
    if (Date.now() > deadline) {
      throw new Error(`mailpit: ${found.length} of ${count} mail(s) to ${to} after ${opts.timeoutMs ?? 15_000} ms`);
    }
    await sleep(100);
  }
}

/** The token of the first link in a mail's text that has `?token=`. */
export function tokenIn(mail: MailMessage): string {
  const m = /[?&]token=([A-Za-z0-9_-]+)/.exec(mail.Text);
  if (!m?.[1]) throw new Error(`no token link in mail "${mail.Subject}":\n${mail.Text}`);
  return m[1];
}
