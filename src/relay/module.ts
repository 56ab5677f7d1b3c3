/** The relay module (`--target=relay`, inside `all`): outboxes -> Kafka, or -> the embedded log. */
import { Relay } from "../platform/events/relay.ts";
import { kafkaPublisher, logPublisher } from "../platform/events/transports.ts";
import type { ModuleContext, ModuleInstance } from "../runtime/module.ts";

export async function init(ctx: ModuleContext): Promise<ModuleInstance> {
  const brokers = ctx.config.kafkaBrokers;
  const schemas = [...ctx.outboxSchemas];
  const relay = new Relay({
    pool: ctx.db().writerPool,
    schemas,
    publisher: brokers.length ? kafkaPublisher({ brokers, clientId: "nova-relay" }) : logPublisher(),
    log: ctx.log,
    retentionMs: ctx.config.OUTBOX_RETENTION_HOURS * 3_600_000,
  });
  relay.start();
  ctx.log.info({ schemas, transport: brokers.length ? "kafka" : "postgres-log" }, "relay started");
  return { ready: async () => relay.healthy(), stop: () => relay.stop() };
}
