/** Presents catalogue errors as GraphQL errors with `extensions.code` (and `field`). */
import type { GraphQLError, GraphQLFormattedError } from "graphql";
import mercurius from "mercurius";
import { catalogue, fromError, NovaError } from "../platform/errors.ts";
import { logger } from "../platform/observability/logger.ts";

function presentation(e: NovaError): { message: string; extensions: Record<string, unknown> } {
  const extensions: Record<string, unknown> = { code: e.def.graphql };
  if (e.field) extensions.field = e.field;
  return { message: e.code === "INTERNAL" ? catalogue.INTERNAL.message : e.message, extensions };
}

export function toGraphQLError(err: unknown): Error {
  // Already presented (e.g. thrown by a helper inside a resolver's call).
  if (err instanceof mercurius.ErrorWithProps) return err;
  const e = fromError(err);
  if (e.code === "INTERNAL") logger().error({ err }, "internal error behind the gateway");
  const p = presentation(e);
  return new mercurius.ErrorWithProps(p.message, p.extensions);
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

function present(error: GraphQLError): Record<string, unknown> {
  const json = error.toJSON() as unknown as Record<string, unknown> & { extensions?: Record<string, unknown> };
  const original = error.originalError;
  if (original instanceof mercurius.ErrorWithProps) return json;
  if (original instanceof NovaError) return { ...json, ...presentation(original) };
  const http = httpStatusOf(original);
  if (http) {
    // A request-level refusal from Fastify (body too large, bad content type, bad JSON).
    return { message: original?.message, extensions: { code: http === 413 ? "PAYLOAD_TOO_LARGE" : "BAD_REQUEST" } };
  }
  if (original) {
    // Something unexpected in a resolver: log it, never show it.
    logger().error({ err: original }, "unhandled resolver error");
    return { ...json, message: catalogue.INTERNAL.message, extensions: { code: catalogue.INTERNAL.graphql } };
  }
  // Parse and validation errors from GraphQL itself.
  return { ...json, extensions: { code: "GRAPHQL_VALIDATION_FAILED", ...json.extensions } };
}

// biome-ignore lint/suspicious/noExplicitAny: mercurius' formatter types are loose
export function errorFormatter(execution: any, _ctx: unknown) {
  const flat: GraphQLError[] = [];
  for (const error of execution.errors as GraphQLError[]) {
    const nested = (error.originalError as { errors?: GraphQLError[] } | undefined)?.errors;
    if (Array.isArray(nested)) flat.push(...nested);
    else flat.push(error);
  }
  const errors = flat.map(present);
  const onlyRequestErrors = !execution.data && flat.every((e) => !e.path);
  const http = flat.length === 1 ? httpStatusOf(flat[0]?.originalError) : undefined;
  return {
    statusCode: http ?? (onlyRequestErrors ? (execution.statusCode ?? 400) : 200),
    response: { data: execution.data ?? null, errors: errors as unknown as GraphQLFormattedError[] },
  };
}
