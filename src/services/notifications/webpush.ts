/**
 * Web Push delivery (RFC 8030 with VAPID, RFC 8292, and the aes128gcm payload encryption of
 * RFC 8291) through the `web-push` library. A browser's subscription is a device whose token is its
 * endpoint; the payload is a small JSON the service worker turns into a notification.
 *
 * The endpoint is a URL a user gave: every request goes through an agent that connects to public
 * addresses only (platform/security/outbound.ts), and the endpoint is checked again before each
 * send. A 404 or 410 answer means the subscription is gone: the device is removed (invalid_token).
 *
 * The VAPID key pair comes from PUSH_VAPID_PUBLIC_KEY / PUSH_VAPID_PRIVATE_KEY. Outside production,
 * unset, a pair is made once and kept in <NOVA_DATA_DIR>/push/vapid.json (0600), so subscriptions
 * survive restarts; in production, unset, Web Push is off (replicas must share one pair).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import webpush from "web-push";
import { hostProblem, publicAgent } from "../../platform/security/outbound.ts";
import type { Config } from "../../runtime/config.ts";
import type { PushMessage, PushResult, PushSender } from "./push.ts";

export interface VapidKeys {
  publicKey: string;
  privateKey: string;
}

/** The configured pair; else, outside production, the one kept under the data dir (made on first use). */
export function vapidKeys(config: Config): VapidKeys | undefined {
  if (config.PUSH_VAPID_PUBLIC_KEY && config.PUSH_VAPID_PRIVATE_KEY) {
    return { publicKey: config.PUSH_VAPID_PUBLIC_KEY, privateKey: config.PUSH_VAPID_PRIVATE_KEY };
  }
  if (config.production) return undefined;
  const dir = join(config.dataDir, "push");
  const file = join(dir, "vapid.json");
  if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8")) as VapidKeys;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keys = webpush.generateVAPIDKeys();
  writeFileSync(file, JSON.stringify(keys), { mode: 0o600, flag: "wx" });
  return keys;
}

export interface WebPushOptions {
  keys: VapidKeys;
  /** mailto: or https: contact the push service can reach the sender at. */
  subject: string;
  /** Tests only: endpoints on loopback are allowed. */
  allowLoopback: boolean;
  /** A CA to trust besides the system's (PUSH_CA_FILE). */
  ca?: Buffer;
  log: Logger;
  timeoutMs?: number;
}

/** RFC 8030's Topic: at most 32 base64url characters, so a hash of the collapse key. */
const topicOf = (collapseKey: string) => createHash("sha256").update(collapseKey).digest("base64url").slice(0, 32);

export class WebPushSender implements PushSender {
  readonly name = "webpush";
  private readonly agent;
  constructor(private readonly opts: WebPushOptions) {
    this.agent = publicAgent({ allowLoopback: opts.allowLoopback, ca: opts.ca });
  }

  async send(m: PushMessage): Promise<PushResult> {
    if (!m.keys) return "invalid_token";
    let url: URL;
    try {
      url = new URL(m.token);
    } catch {
      return "invalid_token";
    }
    if (url.protocol !== "https:" || hostProblem(url, this.opts.allowLoopback)) return "invalid_token";
    const payload = JSON.stringify({
      notificationId: m.notificationId,
      type: m.type,
      actorCount: m.actorCount,
      badge: m.badge,
    });
    try {
      await webpush.sendNotification({ endpoint: m.token, keys: m.keys }, payload, {
        vapidDetails: { subject: this.opts.subject, ...this.opts.keys },
        TTL: 86_400,
        urgency: "normal",
        topic: topicOf(m.collapseKey),
        contentEncoding: "aes128gcm",
        timeout: this.opts.timeoutMs ?? 10_000,
        agent: this.agent,
      });
      return "sent";
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      if (status === 404 || status === 410) return "invalid_token";
      this.opts.log.warn({ status, host: url.host, err: status ? undefined : err }, "web push refused");
      return "failed";
    }
  }
}
