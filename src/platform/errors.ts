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
  /** One line for clients: when this code is answered. The README's table of codes is generated from it (`npm run docs`). */
  readonly meaning: string;
}

export const catalogue = {
  VALIDATION_FAILED: {
    grpc: Code.InvalidArgument,
    graphql: "BAD_USER_INPUT",
    http: 400,
    message: "invalid input",
    meaning: "an argument or input field is invalid; `extensions.field` names it (e.g. `email`, `media[0].url`)",
  },
  ALREADY_EXISTS: {
    grpc: Code.AlreadyExists,
    graphql: "CONFLICT",
    http: 409,
    message: "already exists",
    meaning: "it exists already: a username that is taken, an email that is registered",
  },
  NOT_FOUND: {
    grpc: Code.NotFound,
    graphql: "NOT_FOUND",
    http: 404,
    message: "not found",
    meaning:
      "the user, post, comment or conversation named by an argument does not exist (`user(username:)` and `post(id:)` answer null instead)",
  },
  UNAUTHENTICATED: {
    grpc: Code.Unauthenticated,
    graphql: "UNAUTHENTICATED",
    http: 401,
    message: "authentication required",
    meaning: "the field needs sign-in and no access token came, or `Authorization` is not `Bearer <access token>`",
  },
  INVALID_CREDENTIALS: {
    grpc: Code.Unauthenticated,
    graphql: "INVALID_CREDENTIALS",
    http: 401,
    message: "invalid username, email or password",
    meaning: "`login` refused: an unknown account, a wrong password and a locked account get this same answer",
  },
  TWO_FACTOR_REQUIRED: {
    grpc: Code.Unauthenticated,
    graphql: "TWO_FACTOR_REQUIRED",
    http: 401,
    message: "this account signs in with a second factor: use signIn and completeSignIn",
    meaning:
      "`login` of an account with two-factor sign-in (the password was right): `signIn` answers its challenge, `completeSignIn` takes it with a code",
  },
  TOKEN_INVALID: {
    grpc: Code.Unauthenticated,
    graphql: "TOKEN_INVALID",
    http: 401,
    message: "token is invalid or expired",
    meaning:
      "the access or refresh token is invalid or expired, or its session has ended (logout, a reused refresh token)",
  },
  FORBIDDEN: {
    grpc: Code.PermissionDenied,
    graphql: "FORBIDDEN",
    http: 403,
    message: "not allowed",
    meaning:
      "signed in but not allowed: changing someone else's post, another user's bookmarks, a follow, mention or message across a block",
  },
  ACCOUNT_SUSPENDED: {
    grpc: Code.PermissionDenied,
    graphql: "ACCOUNT_SUSPENDED",
    http: 403,
    message: "this account is suspended",
    meaning: "a moderator suspended (until a time the message gives) or banned the account: it cannot sign in",
  },
  EMAIL_NOT_VERIFIED: {
    grpc: Code.PermissionDenied,
    graphql: "EMAIL_NOT_VERIFIED",
    http: 403,
    message: "verify your email address first",
    meaning:
      "signed in, but the email address is not verified yet (`IDENTITY_REQUIRE_VERIFIED_EMAIL`): posting, commenting and messaging wait for `verifyEmail`",
  },
  RATE_LIMITED: {
    grpc: Code.ResourceExhausted,
    graphql: "RATE_LIMITED",
    http: 429,
    message: "too many requests",
    meaning: "a rate limit was reached (`Retry-After` says when to retry), or a socket holds too many subscriptions",
  },
  UNAVAILABLE: {
    grpc: Code.Unavailable,
    graphql: "UNAVAILABLE",
    http: 503,
    message: "service unavailable",
    meaning: "a backend service or the Idempotency-Key store is down or busy; retry later",
  },
  DEADLINE_EXCEEDED: {
    grpc: Code.DeadlineExceeded,
    graphql: "DEADLINE_EXCEEDED",
    http: 504,
    message: "deadline exceeded",
    meaning: "the request's deadline (`REQUEST_TIMEOUT_MS`) passed before a backend answered",
  },
  LIMIT_REACHED: {
    grpc: Code.FailedPrecondition,
    graphql: "LIMIT_REACHED",
    http: 409,
    message: "a limit has been reached",
    meaning: "a size limit of the data would be passed (a group's number of members)",
  },
  PUSH_UNAVAILABLE: {
    grpc: Code.FailedPrecondition,
    graphql: "PUSH_UNAVAILABLE",
    http: 409,
    message: "Web Push is not configured on this server",
    meaning:
      "a WEB push subscription where the server has no VAPID keys (`PUSH_VAPID_PUBLIC_KEY`, `PUSH_VAPID_PRIVATE_KEY`)",
  },
  // Media uploads (services/media): each names the field at fault (`byteSize`, `contentType`, `file`, `id`).
  MEDIA_EMPTY: {
    grpc: Code.InvalidArgument,
    graphql: "MEDIA_EMPTY",
    http: 400,
    message: "the file is empty",
    meaning: "an upload of zero bytes (`byteSize` 0, or no bytes were sent)",
  },
  MEDIA_TOO_LARGE: {
    grpc: Code.InvalidArgument,
    graphql: "MEDIA_TOO_LARGE",
    http: 413,
    message: "the file is too large",
    meaning: "an upload above `MEDIA_MAX_BYTES` (a video: `MEDIA_VIDEO_MAX_BYTES`)",
  },
  MEDIA_SIZE_MISMATCH: {
    grpc: Code.InvalidArgument,
    graphql: "MEDIA_SIZE_MISMATCH",
    http: 400,
    message: "the bytes sent are not the size declared",
    meaning: "the upload's bytes (or its `Content-Length`) differ from the `byteSize` `createUpload` declared",
  },
  MEDIA_TYPE_UNSUPPORTED: {
    grpc: Code.InvalidArgument,
    graphql: "MEDIA_TYPE_UNSUPPORTED",
    http: 415,
    message: "this type of file is not accepted",
    meaning:
      "not JPEG, PNG, WebP, AVIF or GIF, nor MP4, QuickTime or WebM video in codecs browsers play (SVG, HEVC, documents, anything else), declared or found in the bytes",
  },
  MEDIA_TYPE_MISMATCH: {
    grpc: Code.InvalidArgument,
    graphql: "MEDIA_TYPE_MISMATCH",
    http: 415,
    message: "the bytes are not of the content type declared",
    meaning: "the type found in the bytes (never the name or a header) is not the `contentType` declared",
  },
  MEDIA_HEIC_UNSUPPORTED: {
    grpc: Code.InvalidArgument,
    graphql: "MEDIA_HEIC_UNSUPPORTED",
    http: 415,
    message: "HEIC/HEIF images are not accepted; send JPEG",
    meaning: "a HEIC or HEIF photo (the image library Nova ships cannot read it): convert it to JPEG first",
  },
  MEDIA_TOO_MANY_PIXELS: {
    grpc: Code.InvalidArgument,
    graphql: "MEDIA_TOO_MANY_PIXELS",
    http: 400,
    message: "the image has too many pixels",
    meaning: "width × height above `MEDIA_MAX_PIXELS` (decompression bombs included)",
  },
  MEDIA_TOO_LONG: {
    grpc: Code.InvalidArgument,
    graphql: "MEDIA_TOO_LONG",
    http: 400,
    message: "the video is too long",
    meaning: "a video longer than `MEDIA_VIDEO_MAX_S` seconds",
  },
  MEDIA_VIDEO_UNAVAILABLE: {
    grpc: Code.FailedPrecondition,
    graphql: "MEDIA_VIDEO_UNAVAILABLE",
    http: 409,
    message: "this server takes no video",
    meaning: "a video upload where the media service runs without ffmpeg (an image without it): send photos",
  },
  MEDIA_CORRUPT: {
    grpc: Code.InvalidArgument,
    graphql: "MEDIA_CORRUPT",
    http: 400,
    message: "the file cannot be decoded",
    meaning: "the bytes are truncated or damaged, or are more than one file at once (a polyglot)",
  },
  MEDIA_NOT_UPLOADED: {
    grpc: Code.FailedPrecondition,
    graphql: "MEDIA_NOT_UPLOADED",
    http: 409,
    message: "no bytes were uploaded for this media",
    meaning: "`completeUpload` before the bytes were sent to the upload target (or after it expired)",
  },
  MEDIA_NOT_READY: {
    grpc: Code.FailedPrecondition,
    graphql: "MEDIA_NOT_READY",
    http: 409,
    message: "the media is not processed yet",
    meaning: "a post names media that is still being processed (or was rejected): wait for state READY",
  },
  MEDIA_ALREADY_ATTACHED: {
    grpc: Code.FailedPrecondition,
    graphql: "MEDIA_ALREADY_ATTACHED",
    http: 409,
    message: "this media is already in another conversation",
    meaning: "a message names media sent in another conversation already (message media stays private to one)",
  },
  MEDIA_WRONG_PURPOSE: {
    grpc: Code.FailedPrecondition,
    graphql: "MEDIA_WRONG_PURPOSE",
    http: 409,
    message: "this media was uploaded for something else",
    meaning:
      "a post names media uploaded with purpose MESSAGE (private), or a message names media uploaded for posts (public)",
  },
  QUOTA_EXCEEDED: {
    grpc: Code.ResourceExhausted,
    graphql: "QUOTA_EXCEEDED",
    http: 429,
    message: "an upload quota has been reached",
    meaning:
      "`createUpload` past the user's quota: `byteSize` (bytes declared in 24 hours, `MEDIA_QUOTA_BYTES_PER_DAY`) or `files` (uploads in an hour, `MEDIA_QUOTA_FILES_PER_HOUR`)",
  },
  MEDIA_ALREADY_COMPLETED: {
    grpc: Code.FailedPrecondition,
    graphql: "MEDIA_ALREADY_COMPLETED",
    http: 409,
    message: "this upload is already completed",
    meaning: "`completeUpload` (or a second upload of the bytes) for media that was completed already",
  },
  INTERNAL: {
    grpc: Code.Internal,
    graphql: "INTERNAL",
    http: 500,
    message: "internal error",
    meaning: "an unexpected failure behind the gateway; `extensions.traceId` finds it in the logs",
  },
  // The gateway's edges (ARCHITECTURE §7): refusals before anything is executed.
  INVALID_OPERATION: {
    grpc: Code.InvalidArgument,
    graphql: "GRAPHQL_VALIDATION_FAILED",
    http: 400,
    message: "the operation is not valid",
    meaning: "the document does not parse or does not validate against the schema (an unknown field, a fragment cycle)",
  },
  QUERY_TOO_DEEP: {
    grpc: Code.InvalidArgument,
    graphql: "QUERY_TOO_DEEP",
    http: 400,
    message: "query is too deep",
    meaning: "more field levels than `GATEWAY_MAX_DEPTH`",
  },
  QUERY_TOO_COMPLEX: {
    grpc: Code.InvalidArgument,
    graphql: "QUERY_TOO_COMPLEX",
    http: 400,
    message: "query is too expensive",
    meaning: "the operation (or batch) costs more than `GATEWAY_MAX_COST`",
  },
  TOO_MANY_ALIASES: {
    grpc: Code.InvalidArgument,
    graphql: "TOO_MANY_ALIASES",
    http: 400,
    message: "too many aliases",
    meaning: "more aliases than `GATEWAY_MAX_ALIASES`",
  },
  TOO_MANY_TOKENS: {
    grpc: Code.InvalidArgument,
    graphql: "TOO_MANY_TOKENS",
    http: 400,
    message: "query is too long",
    meaning: "a document of more tokens than `GATEWAY_MAX_TOKENS`",
  },
  TOO_MANY_DIRECTIVES: {
    grpc: Code.InvalidArgument,
    graphql: "TOO_MANY_DIRECTIVES",
    http: 400,
    message: "too many directives",
    meaning: "more directives than `GATEWAY_MAX_DIRECTIVES`",
  },
  BATCH_NOT_ALLOWED: {
    grpc: Code.InvalidArgument,
    graphql: "BATCH_NOT_ALLOWED",
    http: 400,
    message: "batched operations are not accepted",
    meaning: "an array of operations while batching is off, or more than `GATEWAY_MAX_BATCH`",
  },
  INTROSPECTION_DISABLED: {
    grpc: Code.PermissionDenied,
    graphql: "INTROSPECTION_DISABLED",
    http: 400,
    message: "introspection is disabled",
    meaning: "`__schema` or `__type` while introspection is off (production)",
  },
  PERSISTED_QUERY_NOT_FOUND: {
    grpc: Code.NotFound,
    graphql: "PERSISTED_QUERY_NOT_FOUND",
    http: 400,
    message: "PersistedQueryNotFound",
    meaning: "a persisted hash the gateway does not know; outside production, send it once more with the text",
  },
  PERSISTED_QUERY_REQUIRED: {
    grpc: Code.PermissionDenied,
    graphql: "PERSISTED_QUERY_REQUIRED",
    http: 400,
    message: "only persisted operations are accepted",
    meaning: "allow-list only (production): the operation is not in `src/gateway/operations/manifest.json`",
  },
  IDEMPOTENCY_KEY_REUSED: {
    grpc: Code.FailedPrecondition,
    graphql: "IDEMPOTENCY_KEY_REUSED",
    http: 422,
    message: "this Idempotency-Key was used with a different request",
    meaning: "this `Idempotency-Key` came before with a different body",
  },
  IDEMPOTENCY_KEY_IN_USE: {
    grpc: Code.Aborted,
    graphql: "IDEMPOTENCY_KEY_IN_USE",
    http: 409,
    message: "a request with this Idempotency-Key is still in progress",
    meaning: "the first request with this `Idempotency-Key` is still running past the request deadline",
  },
  CALL_BUDGET_EXCEEDED: {
    grpc: Code.ResourceExhausted,
    graphql: "CALL_BUDGET_EXCEEDED",
    http: 400,
    message: "the operation needs too many backend calls",
    meaning: "the fields that needed more backend calls than `GATEWAY_CALL_BUDGET`; the rest of the answer is kept",
  },
  PAYLOAD_TOO_LARGE: {
    grpc: Code.InvalidArgument,
    graphql: "PAYLOAD_TOO_LARGE",
    http: 413,
    message: "body too large",
    meaning: "a body above `GATEWAY_BODY_LIMIT_BYTES`",
  },
  UNSUPPORTED_MEDIA_TYPE: {
    grpc: Code.InvalidArgument,
    graphql: "UNSUPPORTED_MEDIA_TYPE",
    http: 415,
    message: "Content-Type must be application/json",
    meaning: "a POST whose `Content-Type` is not JSON",
  },
  METHOD_NOT_ALLOWED: {
    grpc: Code.InvalidArgument,
    graphql: "METHOD_NOT_ALLOWED",
    http: 405,
    message: "mutations must be sent with POST",
    meaning:
      "a mutation over GET, a subscription over HTTP, a query or mutation over the WebSocket, or neither GET nor POST",
  },
  OVERLOADED: {
    grpc: Code.Unavailable,
    graphql: "OVERLOADED",
    http: 503,
    message: "server is overloaded; retry later",
    meaning: "the gateway is shedding load (event-loop delay or heap); retry after `Retry-After`",
  },
  BAD_REQUEST: {
    grpc: Code.InvalidArgument,
    graphql: "BAD_REQUEST",
    http: 400,
    message: "malformed request",
    meaning: "a body that is empty or not valid JSON",
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
