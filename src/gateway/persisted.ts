/**
 * Persisted operations. Outside production: Automatic Persisted Queries
 * (Apollo's protocol: `extensions.persistedQuery = { version: 1, sha256Hash }`),
 * remembered in a bounded in-process LRU, plus ad-hoc documents. In
 * production (or GATEWAY_PERSISTED_ONLY=true): only the allow-list, i.e. the
 * operations in src/gateway/operations/*.graphql, by hash or by exact text.
 *
 * The allow-list is `operations/manifest.json`, built by `npm run operations`
 * (scripts/operations.ts) and checked against the .graphql files by
 * persisted.test.ts, so it cannot go stale.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LRUCache } from "lru-cache";
import { invalid, NovaError } from "../platform/errors.ts";

export const OPERATIONS_DIR = fileURLToPath(new URL("./operations/", import.meta.url));
export const MANIFEST_PATH = join(OPERATIONS_DIR, "manifest.json");

export interface Manifest {
  /** sha256 (hex) of the document text -> the operation. */
  operations: Record<string, { name: string; document: string }>;
}

export const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

/**
 * The manifest as the .graphql files say it should be: one operation per file, named like the file,
 * its document the operation followed by the fragments (`fragments/<Name>.graphql`) it spreads,
 * transitively, by name. The document is what a client sends, so its hash is the persisted id.
 */
export function buildManifest(dir = OPERATIONS_DIR): Manifest {
  const fragments = readFragments(join(dir, "fragments"));
  const operations: Manifest["operations"] = {};
  for (const file of readdirSync(dir).sort()) {
    if (!file.endsWith(".graphql")) continue;
    const text = readFileSync(join(dir, file), "utf8").trim();
    const used = [...spreadsOf(text, fragments, new Set())].sort();
    const document = [text, ...used.map((n) => fragments.get(n) as string)].join("\n\n");
    operations[sha256(document)] = { name: file.replace(/\.graphql$/, ""), document };
  }
  return { operations };
}

/** Each fragment file holds the one fragment it is named after. */
function readFragments(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const file of readdirSync(dir).sort()) {
    if (!file.endsWith(".graphql")) continue;
    const name = file.replace(/\.graphql$/, "");
    const text = readFileSync(join(dir, file), "utf8").trim();
    if (!text.startsWith(`fragment ${name} on `)) throw new Error(`fragments/${file} must define fragment ${name}`);
    out.set(name, text);
  }
  return out;
}

/** The fragments a document spreads, and the ones they spread (`... on Type` is an inline fragment). */
function spreadsOf(text: string, fragments: Map<string, string>, seen: Set<string>): Set<string> {
  for (const m of text.matchAll(/\.\.\.\s*([A-Za-z_]\w*)/g)) {
    const name = m[1] as string;
    if (name === "on" || seen.has(name)) continue;
    const body = fragments.get(name);
    if (body === undefined) throw new Error(`unknown fragment ${name}`);
    seen.add(name);
    spreadsOf(body, fragments, seen);
  }
  return seen;
}

export function loadManifest(path = MANIFEST_PATH): Manifest {
  return JSON.parse(readFileSync(path, "utf8")) as Manifest;
}

export interface OperationRequest {
  query?: unknown;
  extensions?: unknown;
}

/** APQ entries are only remembered for documents up to this size. */
const APQ_MAX_TEXT = 64 * 1024;

export class PersistedOperations {
  private readonly allowed = new Map<string, string>();
  private readonly apq = new LRUCache<string, string>({ max: 2_000 });

  constructor(
    manifest: Manifest,
    readonly persistedOnly: boolean,
  ) {
    for (const [hash, op] of Object.entries(manifest.operations)) this.allowed.set(hash, op.document);
  }

  /**
   * The document a request runs, or a coded refusal. `remember` is set when
   * the text should be stored under its hash once it passed the limits.
   */
  resolve(req: OperationRequest): { query: string; remember?: string } {
    const ext = req.extensions;
    const pq =
      ext && typeof ext === "object" ? (ext as { persistedQuery?: unknown }).persistedQuery : (undefined as unknown);
    const text = typeof req.query === "string" && req.query !== "" ? req.query : undefined;
    if (req.query !== undefined && req.query !== null && typeof req.query !== "string") {
      throw invalid("query", "must be a string");
    }
    if (pq !== undefined && pq !== null) {
      const { version, sha256Hash } = pq as { version?: unknown; sha256Hash?: unknown };
      if (version !== 1) throw invalid("extensions.persistedQuery.version", "must be 1");
      if (typeof sha256Hash !== "string" || !/^[0-9a-f]{64}$/.test(sha256Hash)) {
        throw invalid("extensions.persistedQuery.sha256Hash", "must be a lowercase hex sha256");
      }
      if (text !== undefined) {
        if (sha256(text) !== sha256Hash) {
          throw invalid("extensions.persistedQuery.sha256Hash", "does not match the sha256 of the query");
        }
        if (this.persistedOnly && !this.allowed.has(sha256Hash)) throw notAllowed();
        return this.persistedOnly || this.allowed.has(sha256Hash)
          ? { query: text }
          : { query: text, remember: sha256Hash };
      }
      const known = this.allowed.get(sha256Hash) ?? (this.persistedOnly ? undefined : this.apq.get(sha256Hash));
      if (known === undefined) {
        throw new NovaError("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound", {
          field: "extensions.persistedQuery.sha256Hash",
        });
      }
      return { query: known };
    }
    if (text === undefined) throw invalid("query", "is required");
    if (this.persistedOnly && !this.allowed.has(sha256(text))) throw notAllowed();
    return { query: text };
  }

  /** Stores an APQ document after it passed the limits (never in persisted-only mode). */
  remember(hash: string, text: string): void {
    if (!this.persistedOnly && text.length <= APQ_MAX_TEXT) this.apq.set(hash, text);
  }
}

function notAllowed(): NovaError {
  return new NovaError(
    "PERSISTED_QUERY_REQUIRED",
    "only the allow-listed operations are accepted here; send a persisted hash from the manifest",
    { field: "query" },
  );
}
