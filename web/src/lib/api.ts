/**
 * The client's one way to the gateway. Queries and mutations: POST /graphql with only the persisted
 * hash (`extensions.persistedQuery`), which production (GATEWAY_PERSISTED_ONLY) requires; subscriptions:
 * graphql-ws on the same path with the hash and an empty query. The access token rides in the
 * Authorization header (HTTP) and connectionParams (WebSocket); a 401 refreshes the session once.
 */
import { type Client, createClient } from "graphql-ws";
import RefreshToken from "$ops/RefreshToken.graphql";
import { ApiError, type GqlError } from "./errors.ts";
import { session } from "./session.svelte.ts";

export type Operation = { name: string; hash: string; document?: string };
type Vars = Record<string, unknown>;

function body(op: Operation, variables: Vars, withText: boolean): string {
  return JSON.stringify({
    operationName: op.name,
    variables,
    extensions: { persistedQuery: { version: 1, sha256Hash: op.hash } },
    ...(withText && op.document ? { query: op.document } : {}),
  });
}

async function post(op: Operation, variables: Vars, token: string | undefined, withText = false) {
  const res = await fetch("/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body(op, variables, withText),
  });
  const json = (await res.json()) as { data?: unknown; errors?: GqlError[] };
  return { status: res.status, json };
}

let refreshing: Promise<boolean> | undefined;

/** Trades the refresh token for a new pair; false (and signed out) when that fails. */
function refresh(): Promise<boolean> {
  refreshing ??= (async () => {
    const token = session.current?.refreshToken;
    if (!token) return false;
    const { json } = await post(RefreshToken, { token }, undefined);
    const pair = (json.data as { refreshToken?: { accessToken: string; refreshToken: string } } | null)?.refreshToken;
    if (!pair) {
      session.signOut();
      return false;
    }
    session.update(pair.accessToken, pair.refreshToken);
    return true;
  })().finally(() => {
    refreshing = undefined;
  });
  return refreshing;
}

export async function gql<T>(op: Operation, variables: Vars = {}): Promise<T> {
  let res = await post(op, variables, session.current?.accessToken);
  if (res.status === 401 && (await refresh())) res = await post(op, variables, session.current?.accessToken);
  // Only a development server that restarted before an operation was added lacks its hash.
  if (res.json.errors?.[0]?.extensions?.code === "PERSISTED_QUERY_NOT_FOUND" && op.document) {
    res = await post(op, variables, session.current?.accessToken, true);
  }
  if (res.json.errors?.length) throw new ApiError(res.json.errors);
  return res.json.data as T;
}

let ws: Client | undefined;

function socket(): Client {
  ws ??= createClient({
    url: `${location.origin.replace(/^http/, "ws")}/graphql`,
    lazy: true,
    retryAttempts: Number.POSITIVE_INFINITY,
    connectionParams: () => ({ authorization: `Bearer ${session.current?.accessToken ?? ""}` }),
  });
  return ws;
}

/** Drops the socket (sign-out, new token): the next subscription connects as the current session. */
export function resetSocket(): void {
  ws?.dispose();
  ws = undefined;
}

/** Subscribes; returns the unsubscribe function. */
export function subscribe<T>(op: Operation, onData: (data: T) => void): () => void {
  return socket().subscribe(
    { query: "", operationName: op.name, extensions: { persistedQuery: { version: 1, sha256Hash: op.hash } } },
    {
      next: (msg) => {
        if (msg.data) onData(msg.data as T);
      },
      error: () => {},
      complete: () => {},
    },
  );
}
