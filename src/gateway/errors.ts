/**
 * Presents catalogue errors as GraphQL errors with `extensions.code` (and
 * `field`). RPC codes arrive as catalogue errors (platform/errors.ts
 * `fromError`): UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, BAD_USER_INPUT,
 * RATE_LIMITED, UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL.
 *
 * Server-side failures (INTERNAL, UNAVAILABLE, DEADLINE_EXCEEDED, anything
 * unexpected) are logged with the request's trace id, and the client gets
 * the trace id in `extensions.traceId`. In production their messages are the
 * catalogue's fixed text (no backend address, no stack, no SQL), and
 * GraphQL's "Did you mean …?" field suggestions are removed.
 */
import { GraphQLError, type GraphQLFormattedError } from "graphql";
import mercurius from "mercurius";
import { catalogue, type ErrorCode, fromError, NovaError } from "../platform/errors.ts";
import { logger } from "../platform/observability/logger.ts";
import { fieldName, ScalarError } from "./scalars.ts";

const kCause = Symbol("nova.cause");

function presentation(e: NovaError): { message: string; extensions: Record<string, unknown> } {
  const extensions: Record<string, unknown> = { code: e.def.graphql };
  if (e.field) extensions.field = e.field;
  return { message: e.code === "INTERNAL" ? catalogue.INTERNAL.message : e.message, extensions };
}

export function toGraphQLError(err: unknown): Error {
  // Already presented (e.g. thrown by a helper inside a resolver's call).
  if (err instanceof mercurius.ErrorWithProps) return err;
  const e = fromError(err);
  const p = presentation(e);
  const out = new mercurius.ErrorWithProps(p.message, p.extensions);
  // The formatter logs server-side failures with the trace id; keep what caused them.
  Object.defineProperty(out, kCause, { value: err, enumerable: false });
  return out;
}

/** The 4xx status of a Fastify request error, if that is what this is. */
function httpStatusOf(err: unknown): number | undefined {
  const e = err as { statusCode?: unknown; code?: unknown } | undefined;
  if (
    typeof e?.statusCode === "number" &&
    e.statusCode >= 400 &&
    e.statusCode < 500 &&
    String(e.code).startsWith("FST_")
  ) {
    return e.statusCode;
  }
  return undefined;
}

const byGraphqlCode = new Map<string, ErrorCode>(
  Object.entries(catalogue).map(([code, def]) => [def.graphql, code as ErrorCode]),
);

/** A value a scalar refused, reported by graphql-js: `… at "input.email"; is not a valid email address`. */
function scalarField(message: string): string | undefined {
  const at = /got invalid value .*? at "([^"]+)"/.exec(message);
  if (at) return fieldName(at[1] as string);
  const v = /^Variable "\$([^"]+)"/.exec(message);
  return v?.[1];
}

function causedBy(err: unknown, type: new (...args: never[]) => Error): boolean {
  for (let e = err, i = 0; e && i < 5; e = (e as { originalError?: unknown }).originalError, i++) {
    if (e instanceof type) return true;
  }
  return false;
}

function present(error: GraphQLError): Record<string, unknown> {
  const json = error.toJSON() as unknown as Record<string, unknown> & { extensions?: Record<string, unknown> };
  const original = error.originalError;
  if (original instanceof mercurius.ErrorWithProps) return json;
  if (original instanceof NovaError) return { ...json, ...presentation(original) };
  if (causedBy(original, ScalarError) || /^Variable "\$/.test(error.message)) {
    // A variable (or literal) a scalar or input type refused: bad input, naming the field.
    const field = scalarField(error.message);
    return { ...json, extensions: { code: catalogue.VALIDATION_FAILED.graphql, ...(field ? { field } : {}) } };
  }
  if (original instanceof GraphQLError) {
    return { ...json, extensions: { code: "GRAPHQL_VALIDATION_FAILED", ...json.extensions } };
  }
  const http = httpStatusOf(original);
  if (http) {
    // A request-level refusal from Fastify (body too large, bad content type, bad JSON).
    return {
      message: original?.message,
      extensions: { code: (http === 413 ? catalogue.PAYLOAD_TOO_LARGE : catalogue.BAD_REQUEST).graphql },
    };
  }
  if (original) {
    // Something unexpected in a resolver: logged by the formatter, never shown.
    return {
      ...json,
      message: catalogue.INTERNAL.message,
      extensions: { code: catalogue.INTERNAL.graphql },
      [kCause]: original,
    };
  }
  // Parse and validation errors from GraphQL itself.
  return { ...json, extensions: { code: "GRAPHQL_VALIDATION_FAILED", ...json.extensions } };
}

export interface FormatterOptions {
  production: boolean;
}

interface FormatterContext {
  reply?: { request?: { novaSpan?: { spanContext(): { traceId: string } } } };
}

// biome-ignore lint/suspicious/noExplicitAny: mercurius' formatter types are loose
export function createErrorFormatter(opts: FormatterOptions): (execution: any, ctx: unknown) => any {
  // biome-ignore lint/suspicious/noExplicitAny: mercurius' formatter types are loose
  return (execution: any, ctx: unknown) => {
    const flat: GraphQLError[] = [];
    for (const error of execution.errors as GraphQLError[]) {
      const nested = (error.originalError as { errors?: GraphQLError[] } | undefined)?.errors;
      if (Array.isArray(nested)) flat.push(...nested);
      else flat.push(error);
    }
    const traceId = (ctx as FormatterContext | undefined)?.reply?.request?.novaSpan?.spanContext().traceId;
    const errors = flat.map((error) => {
      const p = present(error) as Record<string, unknown> & { message: string; extensions?: Record<string, unknown> };
      const code = byGraphqlCode.get(String(p.extensions?.code ?? ""));
      const serverSide = code !== undefined && catalogue[code].http >= 500;
      if (serverSide) {
        const cause =
          (p as Record<symbol, unknown>)[kCause] ??
          (error.originalError as unknown as Record<symbol, unknown> | undefined)?.[kCause] ??
          error.originalError;
        logger().error(
          { err: cause ?? error, trace_id: traceId, path: error.path, code: p.extensions?.code },
          "server-side error behind the gateway",
        );
        p.extensions = { ...p.extensions, ...(traceId ? { traceId } : {}) };
        if (opts.production) p.message = catalogue[code].message;
      }
      if (opts.production) p.message = p.message.replace(/ ?Did you mean [^?]*\?/g, "");
      return p;
    });
    const onlyRequestErrors = !execution.data && flat.every((e) => !e.path);
    const http = flat.length === 1 ? httpStatusOf(flat[0]?.originalError) : undefined;
    return {
      statusCode: http ?? (onlyRequestErrors ? (execution.statusCode ?? 400) : 200),
      response: { data: execution.data ?? null, errors: errors as unknown as GraphQLFormattedError[] },
    };
  };
}

/** The development presentation (kept for callers that need no options). */
export const errorFormatter = createErrorFormatter({ production: false });
