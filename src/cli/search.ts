/**
 * `nova search reindex`: asks the running search module to rebuild its
 * projection from the source services (see src/services/search/reindex.ts)
 * and follows the job with a progress bar on stderr. The last stdout line is
 * the job's summary as JSON.
 */
import { randomUUID } from "node:crypto";
import { type Kysely, sql } from "kysely";
import { UsageError } from "./dlq.ts";

interface Job {
  id: string;
  state: "requested" | "running" | "done" | "failed";
  phase: string;
  done: string;
  total: string;
  summary: Record<string, unknown> | null;
  error: string | null;
  stale: boolean;
}

export interface SearchArgs {
  action: string | undefined;
  /** How long to wait for a search module to take the job. */
  waitMs: number;
  /** Progress output (stderr by default). */
  progress?: (line: string) => void;
}

function bar(phase: string, done: number, total: number, startedAt: number): string {
  const width = 30;
  const filled = total > 0 ? Math.min(width, Math.round((done / total) * width)) : 0;
  const rate = Math.round(done / Math.max(0.001, (Date.now() - startedAt) / 1000));
  return `\r${phase.padEnd(7)} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total} (${rate}/s)   `;
}

/** Runs the command; returns the exit code (0 done, 1 failed, 3 no search module took or finished the job in time). */
export async function searchCommand(db: Kysely<unknown>, args: SearchArgs): Promise<number> {
  if (args.action !== "reindex") throw new UsageError("usage: nova search reindex [--wait-ms N]");
  const write = args.progress ?? ((line: string) => process.stderr.write(line));
  // One job at a time: join the one already asked for or running.
  const id = randomUUID();
  const created = await sql<{ id: string }>`INSERT INTO search.reindex_jobs (id) VALUES (${id}::uuid)
    ON CONFLICT DO NOTHING RETURNING id::text AS id`.execute(db);
  let jobId = created.rows[0]?.id;
  if (!jobId) {
    const active = await sql<{ id: string }>`SELECT id::text AS id FROM search.reindex_jobs
      WHERE state IN ('requested', 'running')`.execute(db);
    jobId = active.rows[0]?.id;
    if (!jobId) throw new Error("could not ask for a reindex: try again");
    write(`a reindex is already under way (job ${jobId}); following it\n`);
  }
  const asked = Date.now();
  let phase = "";
  let phaseStarted = Date.now();
  let live = ""; // the phase whose bar is on the open line
  const ended = new Set<string>();
  for (;;) {
    const r =
      await sql<Job>`SELECT id::text AS id, state, phase, done::text AS done, total::text AS total, summary, error,
        coalesce(heartbeat_at < now() - interval '60 seconds', false) AS stale
      FROM search.reindex_jobs WHERE id = ${jobId}::uuid`.execute(db);
    const job = r.rows[0] as Job;
    if (job.state === "requested" && Date.now() - asked > args.waitMs) {
      write(`\nno running search module took the reindex within ${args.waitMs} ms; it stays queued (job ${jobId})\n`);
      return 3;
    }
    // Every scanned phase's bar ends at its total, even one that ran between two polls.
    const phases = (job.summary?.phases ?? {}) as Record<string, number>;
    for (const [p, n] of Object.entries(phases)) {
      if (ended.has(p)) continue;
      if (live !== "" && live !== p) write("\n");
      write(`${bar(p, Number(n), Number(n), p === phase ? phaseStarted : Date.now())}\n`);
      ended.add(p);
      live = "";
    }
    if (job.phase !== phase) {
      phase = job.phase;
      phaseStarted = Date.now();
    }
    if (job.state === "running" && phase !== "" && !ended.has(phase)) {
      if (live !== "" && live !== phase) write("\n");
      live = phase;
      write(bar(phase, Number(job.done), Number(job.total), phaseStarted));
    }
    if (job.state === "done" || job.state === "failed") {
      if (live !== "") write("\n");
      process.stdout.write(
        `${JSON.stringify({ job: job.id, state: job.state, ...job.summary, error: job.error ?? undefined })}\n`,
      );
      return job.state === "done" ? 0 : 1;
    }
    if (job.state === "running" && job.stale) {
      write(`\nthe search module running the reindex stopped; another one takes it over (job ${jobId})\n`);
      return 3;
    }
    await new Promise((res) => setTimeout(res, 200));
  }
}
