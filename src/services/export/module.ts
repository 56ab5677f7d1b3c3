import { join } from "node:path";
import { ContentService } from "../../gen/nova/content/v1/content_pb.ts";
import { ExportService } from "../../gen/nova/export/v1/export_pb.ts";
import { GraphService } from "../../gen/nova/graph/v1/graph_pb.ts";
import { IdentityService } from "../../gen/nova/identity/v1/identity_pb.ts";
import { MediaService } from "../../gen/nova/media/v1/media_pb.ts";
import { MessagingService } from "../../gen/nova/messaging/v1/messaging_pb.ts";
import { createMailer } from "../../platform/mail/mailer.ts";
import { ConfigError } from "../../runtime/config.ts";
import type { ModuleContext, ModuleInstance } from "../../runtime/module.ts";
import { openMediaStore } from "../media/store.ts";
import { buildConsumer, exportErasureConsumer, mailConsumer } from "./consumers.ts";
import { type ExportContext, LINK_TTL_S } from "./context.ts";
import { type ExportTables, lapsedArchives, markExpired } from "./queries.ts";
import { createExportService } from "./service.ts";

export async function init(ctx: ModuleContext): Promise<ModuleInstance> {
  // Archives live in the media store; its folder form works in one process only (as for media).
  if (ctx.mode === "distributed" && !ctx.config.s3) {
    throw new ConfigError(["S3_BUCKET: required for data exports in distributed mode (nova serve), as for media"]);
  }
  const db = ctx.db().kysely<ExportTables>();
  const store = openMediaStore(ctx.config);
  const c = ctx.config;
  const exp: ExportContext = {
    writer: db.writer,
    reader: db.reader,
    outbox: ctx.outbox(),
    store,
    clients: {
      identity: ctx.client(IdentityService),
      content: ctx.client(ContentService),
      graph: ctx.client(GraphService),
      messaging: ctx.client(MessagingService),
      media: ctx.client(MediaService),
    },
    linkTtlS: LINK_TTL_S,
    now: ctx.clock,
  };
  const log = ctx.log.child({ component: "export" });
  const mailer = createMailer({ smtpUrl: c.SMTP_URL, folder: join(c.dataDir, "mail"), from: c.MAIL_FROM, log });
  // Archives whose link lapsed are deleted from the store, hourly.
  const expire = async () => {
    try {
      for (;;) {
        const lapsed = await lapsedArchives(exp.writer, new Date(exp.now()), 100);
        if (lapsed.length === 0) return;
        await store.delete(lapsed.map((a) => a.blob_key).filter(Boolean));
        await markExpired(
          exp.writer,
          lapsed.map((a) => a.id),
        );
      }
    } catch (err) {
      log.warn({ err }, "deleting lapsed data exports failed; will retry");
    }
  };
  const timer = setInterval(expire, 3_600_000);
  timer.unref();
  return {
    services: [{ service: ExportService, impl: createExportService(exp) }],
    consumers: [
      buildConsumer(exp, log),
      mailConsumer(exp, { mailer, publicUrl: c.PUBLIC_URL, log }),
      exportErasureConsumer(exp),
    ],
    async stop() {
      clearInterval(timer);
      mailer.close();
      if ("close" in store) store.close();
    },
  };
}
