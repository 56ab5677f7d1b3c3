/**
 * `nova dlq list|replay`: the events consumers gave up on, across every
 * service schema. A replay is a request the running consumer serves (it owns
 * the handler); the command waits for the outcome and reports it.
 */
import { type Kysely, sql } from "kysely";
import { listDlq, replayStatus, requestReplay } from "../platform/events/consumer.ts";
import { outboxSchemas } from "../runtime/modules.ts";

export interface DlqArgs {
  action: string | undefined;
  id: string | undefined;
  all: boolean;
  consumer: string | undefined;
  waitMs: number;
}

function out(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v)}\n`);
}

/** Runs the command; returns the exit code (0 ok, 1 a replay failed, 3 nobody served the request in time). */
export async function dlqCommand(db: Kysely<unknown>, args: DlqArgs): Promise<number> {
  const schemas = outboxSchemas();
  if (args.action === "list") {
    let listed = 0;
    for (const schema of schemas)
      for (const r of await listDlq(db, schema, args.consumer)) {
        listed++;
        out({
          id: r.id,
          schema,
          consumer: r.consumer,
          topic: r.topic,
          event_id: r.event_id,
          type: (r.envelope as { type?: string } | null)?.type ?? null,
          error: r.error,
          attempts: r.attempts,
          created_at: r.created_at,
        });
      }
    // On stderr, so stdout stays one JSON object per entry.
    if (listed === 0) process.stderr.write("no dead letters\n");
    return 0;
  }
  if (args.action !== "replay")
    throw new UsageError(
      "usage: nova dlq list [--consumer X] | nova dlq replay <id> | nova dlq replay --all [--consumer X]",
    );
  if (!args.id && !args.all) throw new UsageError("nova dlq replay: give an entry id, or --all");
  if (args.id && !/^[0-9a-f-]{36}$/i.test(args.id))
    throw new UsageError(`nova dlq replay: "${args.id}" is not a DLQ entry id`);
  const asked = new Map<string, string[]>();
  for (const schema of schemas) {
    if (args.id) {
      const found = await sql`SELECT 1 FROM ${sql.table(`${schema}.dlq`)} WHERE id = ${args.id}::uuid`.execute(db);
      if (found.rows.length === 0) continue;
    }
    const ids = await requestReplay(db, schema, args.id ? { id: args.id } : { consumer: args.consumer });
    if (ids.length) asked.set(schema, ids);
  }
  if (args.id && asked.size === 0) throw new UsageError(`nova dlq replay: no open DLQ entry ${args.id}`);
  if (asked.size === 0) process.stderr.write("nothing to replay: no dead letters\n");
  const deadline = Date.now() + args.waitMs;
  let code = 0;
  for (const [schema, ids] of asked) {
    let states = await replayStatus(db, schema, ids);
    while (states.some((s) => s.state === "pending") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      states = await replayStatus(db, schema, ids);
    }
    for (const s of states) {
      out({ id: s.id, schema, state: s.state, ...(s.state === "replayed" ? {} : { error: s.error }) });
      if (s.state === "failed") code = Math.max(code, 1);
      if (s.state === "pending") code = 3;
    }
  }
  return code;
}

export class UsageError extends Error {}
