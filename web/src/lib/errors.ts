/** The gateway's coded errors (extensions.code, extensions.field) as sentences, keyed by the field they name. */
import { t } from "./strings.ts";

export interface GqlError {
  message: string;
  extensions?: { code?: string; field?: string };
}

export class ApiError extends Error {
  constructor(readonly errors: GqlError[]) {
    super(errors.map((e) => e.message).join("; "));
  }
  get code(): string | undefined {
    return this.errors[0]?.extensions?.code;
  }
}

/** The last segment of a field path (`input.email` -> `email`, `attachments.0.alt` -> `alt`). */
export function fieldKey(field: string | undefined): string {
  if (!field) return "";
  const parts = field.split(".").filter((p) => !/^\d+$/.test(p));
  return parts[parts.length - 1] ?? "";
}

/** The problem alone: without graphql-js's `Variable "$input" got invalid value … at "input.email"; Expected type "Email". ` or the field's name. */
function detail(message: string, key: string): string {
  const bare = message
    .replace(/^Variable "\$[^"]+" got invalid value .*? at "[^"]+"; /s, "")
    .replace(/^Expected type "[^"]+"\.\s*/, "")
    .replace(/\.$/, "");
  // Field names are identifiers (letters, digits, _), so the key is safe in a pattern.
  return key ? bare.replace(new RegExp(`^${key}:?\\s+`), "") : bare;
}

export function sentence(e: GqlError): string {
  const code = e.extensions?.code ?? "";
  const key = fieldKey(e.extensions?.field);
  const field = t.fields[key] ?? key;
  const byCode = (t.errors as Record<string, ((field: string, detail: string) => string) | undefined>)[code];
  if (byCode) return byCode(field || "input", detail(e.message, key));
  return t.errors.fallback(detail(e.message, key));
}

/** Field -> sentence; errors that name no field (or a field the form does not show) go under "". */
export function byField(err: unknown, shown: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  const errors = err instanceof ApiError ? err.errors : [{ message: t.errors.network() }];
  for (const e of errors) {
    const key = fieldKey(e.extensions?.field);
    const slot = shown.includes(key) ? key : "";
    out[slot] = out[slot] ? `${out[slot]} ${sentence(e)}` : err instanceof ApiError ? sentence(e) : e.message;
  }
  return out;
}
