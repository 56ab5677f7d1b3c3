/**
 * The one catalogue of coded errors (ARCHITECTURE §9). Each entry has a stable
 * code, a default message, the gRPC status it travels as and the GraphQL
 * `extensions.code` it shows. Errors cross process boundaries as a Connect
 * error whose metadata carries the code and the offending field, so the
 * gateway shows the same error whether the service ran in-process or remote.
 */
import { Code, ConnectError } from "@connectrpc/connect";

interface ErrorDef {
  readonly grpc: Code;
  readonly graphql: string;
  readonly http: number;
  readonly message: string;
}

export const catalogue = {
  VALIDATION_FAILED: { grpc: Code.InvalidArgument, graphql: "BAD_USER_INPUT", http: 400, message: "invalid input" },
  ALREADY_EXISTS: { grpc: Code.AlreadyExists, graphql: "CONFLICT", http: 409, message: "already exists" },
  NOT_FOUND: { grpc: Code.NotFound, graphql: "NOT_FOUND", http: 404, message: "not found" },
  UNAUTHENTICATED: {
    grpc: Code.Unauthenticated,
    graphql: "UNAUTHENTICATED",
    http: 401,
    message: "authentication required",
  },
  INVALID_CREDENTIALS: {
    grpc: Code.Unauthenticated,
    graphql: "INVALID_CREDENTIALS",
    http: 401,
    message: "invalid username, email or password",
  },
  TOKEN_INVALID: {
    grpc: Code.Unauthenticated,
    graphql: "TOKEN_INVALID",
    http: 401,
    message: "token is invalid or expired",
  },
  FORBIDDEN: { grpc: Code.PermissionDenied, graphql: "FORBIDDEN", http: 403, message: "not allowed" },
  RATE_LIMITED: { grpc: Code.ResourceExhausted, graphql: "RATE_LIMITED", http: 429, message: "too many requests" },
  UNAVAILABLE: { grpc: Code.Unavailable, graphql: "UNAVAILABLE", http: 503, message: "service unavailable" },
  DEADLINE_EXCEEDED: {
    grpc: Code.DeadlineExceeded,
    graphql: "DEADLINE_EXCEEDED",
    http: 504,
    message: "deadline exceeded",
  },
  LIMIT_REACHED: {
    grpc: Code.FailedPrecondition,
    graphql: "LIMIT_REACHED",
    http: 409,
    message: "a limit has been reached",
  },
  INTERNAL: { grpc: Code.Internal, graphql: "INTERNAL", http: 500, message: "internal error" },
  // The gateway's edges (ARCHITECTURE §7): refusals before anything is executed.
  INVALID_OPERATION: {
    grpc: Code.InvalidArgument,
    graphql: "GRAPHQL_VALIDATION_FAILED",
    http: 400,
    message: "the operation is not valid",
  },
  QUERY_TOO_DEEP: { grpc: Code.InvalidArgument, graphql: "QUERY_TOO_DEEP", http: 400, message: "query is too deep" },
  QUERY_TOO_COMPLEX: {
    grpc: Code.InvalidArgument,
    graphql: "QUERY_TOO_COMPLEX",
    http: 400,
    message: "query is too expensive",
  },
  TOO_MANY_ALIASES: { grpc: Code.InvalidArgument, graphql: "TOO_MANY_ALIASES", http: 400, message: "too many aliases" },
  TOO_MANY_TOKENS: { grpc: Code.InvalidArgument, graphql: "TOO_MANY_TOKENS", http: 400, message: "query is too long" },
  TOO_MANY_DIRECTIVES: {
    grpc: Code.InvalidArgument,
    graphql: "TOO_MANY_DIRECTIVES",
    http: 400,
    message: "too many directives",
  },
  BATCH_NOT_ALLOWED: {
    grpc: Code.InvalidArgument,
    graphql: "BATCH_NOT_ALLOWED",
    http: 400,
    message: "batched operations are not accepted",
  },
  INTROSPECTION_DISABLED: {
    grpc: Code.PermissionDenied,
    graphql: "INTROSPECTION_DISABLED",
    http: 400,
    message: "introspection is disabled",
  },
  PERSISTED_QUERY_NOT_FOUND: {
    grpc: Code.NotFound,
    graphql: "PERSISTED_QUERY_NOT_FOUND",
    http: 400,
    message: "PersistedQueryNotFound",
  },
  PERSISTED_QUERY_REQUIRED: {
    grpc: Code.PermissionDenied,
    graphql: "PERSISTED_QUERY_REQUIRED",
    http: 400,
    message: "only persisted operations are accepted",
  },
  IDEMPOTENCY_KEY_REUSED: {
    grpc: Code.FailedPrecondition,
    graphql: "IDEMPOTENCY_KEY_REUSED",
    http: 422,
    message: "this Idempotency-Key was used with a different request",
  },
  IDEMPOTENCY_KEY_IN_USE: {
    grpc: Code.Aborted,
    graphql: "IDEMPOTENCY_KEY_IN_USE",
    http: 409,
    message: "a request with this Idempotency-Key is still in progress",
  },
  CALL_BUDGET_EXCEEDED: {
    grpc: Code.ResourceExhausted,
    graphql: "CALL_BUDGET_EXCEEDED",
    http: 400,
    message: "the operation needs too many backend calls",
  },
  PAYLOAD_TOO_LARGE: { grpc: Code.InvalidArgument, graphql: "PAYLOAD_TOO_LARGE", http: 413, message: "body too large" },
  UNSUPPORTED_MEDIA_TYPE: {
    grpc: Code.InvalidArgument,
    graphql: "UNSUPPORTED_MEDIA_TYPE",
    http: 415,
    message: "Content-Type must be application/json",
  },
  METHOD_NOT_ALLOWED: {
    grpc: Code.InvalidArgument,
    graphql: "METHOD_NOT_ALLOWED",
    http: 405,
    message: "mutations must be sent with POST",
  },
  OVERLOADED: {
    grpc: Code.Unavailable,
    graphql: "OVERLOADED",
    http: 503,
    message: "server is overloaded; retry later",
  },
} as const satisfies Record<string, ErrorDef>;

export type ErrorCode = keyof typeof catalogue;

const CODE_HEADER = "nova-error-code";
const FIELD_HEADER = "nova-error-field";

export class NovaError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;
  constructor(code: ErrorCode, message?: string, opts: { field?: string; cause?: unknown } = {}) {
    super(message ?? catalogue[code].message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "NovaError";
    this.code = code;
    this.field = opts.field;
  }
  get def(): ErrorDef {
    return catalogue[this.code];
  }
}

/** A field-level input error: the message always names the field. */
export function invalid(field: string, problem: string): NovaError {
  return new NovaError("VALIDATION_FAILED", `${field}: ${problem}`, { field });
}

function isErrorCode(v: string | null): v is ErrorCode {
  return v !== null && Object.hasOwn(catalogue, v);
}

/** NovaError -> ConnectError (server side). Unknown errors become INTERNAL without leaking their text. */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof NovaError) {
    const md = new Headers({ [CODE_HEADER]: err.code });
    if (err.field) md.set(FIELD_HEADER, err.field);
    return new ConnectError(err.message, err.def.grpc, md);
  }
  if (err instanceof ConnectError) return err;
  return new ConnectError("internal error", Code.Internal, new Headers({ [CODE_HEADER]: "INTERNAL" }));
}

const byGrpc: Partial<Record<Code, ErrorCode>> = {
  [Code.InvalidArgument]: "VALIDATION_FAILED",
  [Code.AlreadyExists]: "ALREADY_EXISTS",
  [Code.NotFound]: "NOT_FOUND",
  [Code.Unauthenticated]: "UNAUTHENTICATED",
  [Code.PermissionDenied]: "FORBIDDEN",
  [Code.ResourceExhausted]: "RATE_LIMITED",
  [Code.Unavailable]: "UNAVAILABLE",
  [Code.DeadlineExceeded]: "DEADLINE_EXCEEDED",
  [Code.Canceled]: "UNAVAILABLE",
};

/** Any error (ConnectError from a backend, NovaError, anything) -> NovaError (client side). */
export function fromError(err: unknown): NovaError {
  if (err instanceof NovaError) return err;
  const ce = ConnectError.from(err);
  const code = ce.metadata.get(CODE_HEADER);
  if (isErrorCode(code)) {
    return new NovaError(code, ce.rawMessage, { field: ce.metadata.get(FIELD_HEADER) ?? undefined, cause: err });
  }
  const mapped = byGrpc[ce.code] ?? "INTERNAL";
  return new NovaError(mapped, mapped === "INTERNAL" ? undefined : ce.rawMessage, { cause: err });
}
