/**
 * The export module's consumers of its own events (topic nova.export.archive):
 *
 * - `export.build` makes the archive of an ExportRequested: gathers the user's data from its owners
 *   as the user (gather.ts), streams the ZIP into the media store (archive.ts), then in the event's
 *   transaction marks the row READY and writes ExportReady. A redelivered event finds the row READY
 *   and does nothing; a failed build is retried by the platform, and a PENDING row left by one that
 *   never finished does not stop a later request (requestDataExport.ts).
 * - `export.mail` turns ExportReady into the mail with the link (signed when the mail is made: no
 *   link travels in an event), sent at least once, deduplicated by the event's id like identity's.
 * - `export.erasure` (identity's AccountErased) deletes an erased account's archives, rows and blobs.
 */
import type { Transaction } from "kysely";
import type { Logger } from "pino";
import type { EventHandler } from "../../platform/events/consumer.ts";
import type { Envelope } from "../../platform/events/envelope.ts";
import type { Mailer } from "../../platform/mail/mailer.ts";
import { renderMail } from "../../platform/mail/templates.ts";
import { runWithCall } from "../../platform/rpc/context.ts";
import { deleteUnder } from "../../platform/storage/blobs.ts";
import { erasureConsumer } from "../identity/erasure.ts";
import { writeArchive } from "./archive.ts";
import { archiveKey, type ExportContext, userPrefix } from "./context.ts";
import { ARCHIVE_TOPIC, EXPORT_EVENTS, exportEvent, writeExportEvents } from "./events.ts";
import { gather } from "./gather.ts";
import { EXPORT_READY_MAIL } from "./mails.ts";
import { archiveById, type ExportTables, markReady } from "./queries.ts";
import { signedLink } from "./views.ts";

/** Runs `fn` as the user themself: every service then answers what they may read, as they would see it. */
function asUser<T>(userId: string, exportId: string, fn: () => Promise<T>): Promise<T> {
  return runWithCall({ user: { userId, sessionId: `export-${exportId}` }, deadline: Date.now() + 10 * 60_000 }, fn);
}

export function buildConsumer(ctx: ExportContext, log?: Logger): EventHandler {
  return {
    name: "export.build",
    schema: "export",
    topics: [ARCHIVE_TOPIC],
    async handle(event: Envelope, trx: Transaction<unknown>) {
      if (event.type !== "ExportRequested") return;
      const { userId, exportId } = EXPORT_EVENTS.payload("ExportRequested", event);
      const db = trx as unknown as Transaction<ExportTables>;
      const row = await archiveById(db, exportId);
      if (row?.status !== "PENDING") return;
      const started = Date.now();
      const key = archiveKey(userId, exportId);
      const data = await asUser(userId, exportId, () => gather(ctx.clients, userId));
      const size = await writeArchive(ctx.store, key, data);
      const readyAt = new Date(ctx.now());
      const expiresAt = new Date(readyAt.getTime() + ctx.linkTtlS * 1000);
      if (await markReady(db, exportId, { key, size, readyAt, expiresAt })) {
        await writeExportEvents(ctx.outbox, db, exportEvent("ExportReady", userId, exportId));
      } else {
        // The row went while this ran (the account was erased): so does what was built.
        await ctx.store.delete([key]);
        return;
      }
      log?.info({ exportId, bytes: size, media: data.media.length, ms: Date.now() - started }, "data export built");
    },
  };
}

export interface MailDeps {
  mailer: Mailer;
  /** Where relative links (the folder store's gateway route) are made absolute: PUBLIC_URL. */
  publicUrl: string;
  log?: Logger;
}

const sizeOf = (bytes: number) =>
  bytes >= 1_048_576 ? `${(bytes / 1_048_576).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1024))} KB`;
const when = (d: Date) => `${d.toISOString().replace("T", " ").slice(0, 16)} UTC`;

export function mailConsumer(ctx: ExportContext, deps: MailDeps): EventHandler {
  return {
    name: "export.mail",
    schema: "export",
    topics: [ARCHIVE_TOPIC],
    async handle(event: Envelope, trx: Transaction<unknown>) {
      if (event.type !== "ExportReady") return;
      const { userId, exportId } = EXPORT_EVENTS.payload("ExportReady", event);
      const row = await archiveById(trx as unknown as Transaction<ExportTables>, exportId);
      const link = row ? await signedLink(ctx, row) : "";
      if (!row?.expires_at || !link) return; // expired before its mail went: Me.dataExport tells the rest
      // The address is identity's, asked as the user (the email is answered only to its owner).
      const user = (await asUser(userId, exportId, () => ctx.clients.identity.getUser({ id: userId }))).user;
      if (!user?.email) {
        deps.log?.error({ event: event.id, exportId }, "export mail not sent: the account has no address");
        return;
      }
      const mail = renderMail(EXPORT_READY_MAIL, {
        name: user.displayName || `@${user.username}`,
        username: user.username,
        requested: when(row.requested_at),
        expires: when(row.expires_at),
        size: sizeOf(Number(row.byte_size)),
        link: new URL(link, deps.publicUrl).toString(),
        resetLink: `${deps.publicUrl}/forgot-password`,
      });
      await deps.mailer.send({ id: event.id, to: user.email, ...mail });
    },
  };
}

/** An erased account's archives go: the rows, and every blob under its folder of the store. */
export function exportErasureConsumer(ctx: ExportContext): EventHandler {
  return erasureConsumer("export.erasure", "export", async (userId, trx) => {
    await (trx as unknown as Transaction<ExportTables>)
      .deleteFrom("export.archives")
      .where("user_id", "=", userId)
      .execute();
    await deleteUnder(ctx.store, userPrefix(userId));
  });
}
