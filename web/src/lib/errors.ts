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

export function sentence(e: GqlError): string {
  const code = e.extensions?.code ?? "";
  const key = fieldKey(e.extensions?.field);
  const field = t.fields[key] ?? key;
  const byCode = (t.errors as Record<string, ((field: string, detail: string) => string) | undefined>)[code];
  if (byCode) return byCode(field || "input", e.message.replace(/\.$/, ""));
  return t.errors.fallback(e.message.replace(/\.$/, ""));
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
