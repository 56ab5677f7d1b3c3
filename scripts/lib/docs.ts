/**
 * The README's generated blocks (`npm run docs`, checked by test/docs.test.ts):
 *
 * - `error-codes`: the table of `extensions.code` values, from the catalogue
 *   (src/platform/errors.ts: each entry's `graphql` code and `meaning`).
 * - `sign-in`: which Query, Mutation and Subscription fields work signed out,
 *   from the resolvers themselves. Each resolver is called with no viewer and
 *   with stub backends that record being reached: one that answers
 *   UNAUTHENTICATED before reaching a backend needs sign-in; one that reaches a
 *   backend works signed out. Subscriptions need a token on the WebSocket
 *   itself (realtime/subscriptions.ts closes a connection without one).
 * - `events`: every event each service declares in its `src/services/<svc>/events.ts` (the
 *   `defineEvents` declarations found there): topic, key, type and payload fields.
 *
 * A block sits between `<!-- NAME:begin -->` and `<!-- NAME:end -->` in README.md.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import {
  buildSchema,
  type GraphQLInputType,
  type GraphQLObjectType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
} from "graphql";
import { backends } from "../../src/gateway/backends.ts";
import { resolvers } from "../../src/gateway/resolvers.ts";
import { catalogue, NovaError } from "../../src/platform/errors.ts";
import { type EventSet, isEventSet } from "../../src/platform/events/declare.ts";

export const README_PATH = new URL("../../README.md", import.meta.url);
const SCHEMA_PATH = new URL("../../src/gateway/schema.graphql", import.meta.url);
const SERVICES_DIR = new URL("../../src/services/", import.meta.url);

/** `| code | meaning |` for every catalogue entry, in the catalogue's order. */
export function errorCodesBlock(): string {
  const seen = new Map<string, string>();
  const rows = Object.entries(catalogue).map(([key, def]) => {
    const other = seen.get(def.graphql);
    if (other) throw new Error(`catalogue: ${key} and ${other} both show as ${def.graphql}`);
    seen.set(def.graphql, key);
    return `| \`${def.graphql}\` | ${def.meaning} |`;
  });
  return ["| `extensions.code` | meaning |", "|---|---|", ...rows].join("\n");
}

const ID = "00000000-0000-4000-8000-000000000000";
/** The probes' viewer: someone else than the objects they read. */
const VIEWER = "00000000-0000-4000-8000-000000000001";

/** A value of an argument's type that a resolver accepts (required input fields only). */
function sample(type: GraphQLInputType): unknown {
  if (isNonNullType(type)) return sample(type.ofType);
  if (isListType(type)) return [sample(type.ofType)];
  if (isInputObjectType(type)) {
    return Object.fromEntries(
      Object.values(type.getFields()).flatMap((f) => (isNonNullType(f.type) ? [[f.name, sample(f.type)]] : [])),
    );
  }
  if (isEnumType(type)) return type.getValues()[0]?.value;
  switch (type.name) {
    case "Int":
    case "Float":
      return 1;
    case "Boolean":
      return false;
    case "ID":
      return ID;
    case "Email":
      return "a@example.com";
    case "URL":
      return "https://example.com/a.png";
    default:
      return "x";
  }
}

type Outcome =
  | { kind: "backend" }
  | { kind: "unauthenticated" }
  | { kind: "value"; value: unknown }
  | { kind: "error"; error: unknown };
type Resolver = (parent: unknown, args: unknown, ctx: unknown) => unknown;

class BackendReached extends Error {}

function codeOf(err: unknown): string | undefined {
  if (err instanceof NovaError) return err.code;
  return (err as { extensions?: { code?: unknown } } | undefined)?.extensions?.code as string | undefined;
}

/** Calls one resolver with stub backends; `signedIn` gives it a viewer. */
async function probe(name: string, fn: Resolver, parent: unknown, args: unknown, signedIn: boolean): Promise<Outcome> {
  let reached = false;
  const reach = (): never => {
    reached = true;
    throw new BackendReached(name);
  };
  const deps = new Proxy(
    {},
    { get: (_t, p) => (typeof p === "string" && Object.hasOwn(backends, p) ? reach() : undefined) },
  );
  const loaders = new Proxy({}, { get: (_t, p) => (p === "then" ? undefined : reach()) });
  const ctx = {
    user: signedIn ? { userId: VIEWER, sessionId: VIEWER } : undefined,
    deps,
    loaders,
    call: async () => reach(),
    forgetSessions() {},
  };
  try {
    const value = await fn(parent, args, ctx);
    return reached ? { kind: "backend" } : { kind: "value", value };
  } catch (err) {
    if (reached) return { kind: "backend" };
    return codeOf(err) === "UNAUTHENTICATED" ? { kind: "unauthenticated" } : { kind: "error", error: err };
  }
}

/** A signed-out probe's outcome; an error that is not UNAUTHENTICATED cannot be told apart and stops the generator. */
async function signedOut(name: string, fn: Resolver, parent: unknown, args: unknown): Promise<Outcome> {
  const out = await probe(name, fn, parent, args, false);
  if (out.kind === "error") {
    throw new Error(`${name}: cannot tell whether it needs sign-in (${(out.error as Error).message})`, {
      cause: out.error,
    });
  }
  return out;
}

/** The object a field resolver gets: every property is an id, so it goes on to load what the id names. */
const parentStub = new Proxy({}, { get: (_t, p) => (p === "then" || typeof p !== "string" ? undefined : ID) });

export interface SignIn {
  /** Root type -> its fields that work signed out / need sign-in, in the schema's order. */
  roots: { type: string; open: string[]; signIn: string[] }[];
  /** Other fields (`Type.field`) that need sign-in. */
  nested: string[];
  /** Other fields that answer a fixed value signed out (and ask a backend signed in). */
  viewerOnly: { field: string; value: unknown }[];
}

export async function signIn(): Promise<SignIn> {
  const schema = buildSchema(readFileSync(SCHEMA_PATH, "utf8"));
  const table = resolvers as unknown as Record<string, Record<string, unknown>>;
  const roots: SignIn["roots"] = [];
  for (const type of [schema.getQueryType(), schema.getMutationType()] as GraphQLObjectType[]) {
    const open: string[] = [];
    const needs: string[] = [];
    for (const field of Object.values(type.getFields())) {
      const fn = table[type.name]?.[field.name];
      if (typeof fn !== "function") throw new Error(`${type.name}.${field.name} has no resolver`);
      const args = Object.fromEntries(
        field.args.flatMap((a) => (isNonNullType(a.type) ? [[a.name, sample(a.type)]] : [])),
      );
      const out = await signedOut(`${type.name}.${field.name}`, fn as Resolver, undefined, args);
      (out.kind === "unauthenticated" ? needs : open).push(field.name);
    }
    roots.push({ type: type.name, open, signIn: needs });
  }
  const subscription = schema.getSubscriptionType();
  if (subscription) roots.push({ type: subscription.name, open: [], signIn: Object.keys(subscription.getFields()) });

  const nested: string[] = [];
  const viewerOnly: SignIn["viewerOnly"] = [];
  for (const [typeName, fields] of Object.entries(table)) {
    if (["Query", "Mutation", "Subscription"].includes(typeName) || !(schema.getType(typeName) as GraphQLObjectType)) {
      continue;
    }
    for (const [fieldName, fn] of Object.entries(fields)) {
      if (typeof fn !== "function" || fieldName.startsWith("__")) continue;
      const name = `${typeName}.${fieldName}`;
      const out = await signedOut(name, fn as Resolver, parentStub, {});
      if (out.kind === "unauthenticated") nested.push(name);
      else if (out.kind === "value" && (await probe(name, fn as Resolver, parentStub, {}, true)).kind === "backend") {
        viewerOnly.push({ field: name, value: out.value });
      }
    }
  }
  return { roots, nested, viewerOnly };
}

const code = (names: string[]) => (names.length ? names.map((n) => `\`${n}\``).join(", ") : "—");

export async function signInBlock(): Promise<string> {
  const s = await signIn();
  const lines = [
    "| type | works signed out | needs sign-in |",
    "|---|---|---|",
    ...s.roots.map((r) => `| \`${r.type}\` | ${code(r.open)} | ${code(r.signIn)} |`),
  ];
  if (s.nested.length) lines.push("", `Fields of other types that need sign-in: ${code(s.nested)}.`);
  if (s.viewerOnly.length) {
    const values = s.viewerOnly.map((v) => `\`${v.field}\` is \`${JSON.stringify(v.value)}\``);
    lines.push("", `Signed out, ${values.join(", ")}.`);
  }
  return lines.join("\n");
}

/** Every service's event declarations, by service directory, in name order (a service without events.ts has none). */
export async function declaredEvents(): Promise<{ service: string; sets: EventSet<never, string>[] }[]> {
  const out: { service: string; sets: EventSet<never, string>[] }[] = [];
  for (const service of readdirSync(SERVICES_DIR).sort()) {
    const file = new URL(`${service}/events.ts`, SERVICES_DIR);
    if (!existsSync(file)) continue;
    const exports: Record<string, unknown> = await import(file.href);
    const sets = [...new Set(Object.values(exports).filter(isEventSet))] as unknown as EventSet<never, string>[];
    out.push({ service, sets });
  }
  return out;
}

/** The payload field a declaration keys its events by: its key function, run on a payload that names what is read. */
function keyField(set: EventSet<never, string>): string {
  return set.key(new Proxy({}, { get: (_, name) => String(name) }) as never);
}

/** `| topic | key | event | payload |` for every declared event; an optional field ends in `?`. */
export async function eventsBlock(): Promise<string> {
  const rows: string[] = [];
  for (const { sets } of await declaredEvents()) {
    for (const set of sets) {
      for (const type of set.types) {
        const shape =
          (set.schemas as Record<string, { shape: Record<string, { safeParse(v: unknown): { success: boolean } }> }>)[
            type
          ]?.shape ?? {};
        const fields = Object.entries(shape).map(
          ([name, f]) => `\`${name}${f.safeParse(undefined).success ? "?" : ""}\``,
        );
        rows.push(`| \`${set.topic}\` | \`${keyField(set)}\` | \`${type}\` | ${fields.join(", ")} |`);
      }
    }
  }
  return ["| topic | keyed by | event | payload |", "|---|---|---|---|", ...rows].join("\n");
}

/** Replaces the text between `<!-- name:begin -->` and `<!-- name:end -->`. */
export function replaceBlock(text: string, name: string, body: string): string {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`README.md has no ${begin} … ${end} block`);
  return `${text.slice(0, i + begin.length)}\n${body}\n${text.slice(j)}`;
}

/** The blocks the README must hold, by name. */
export async function blocks(): Promise<Record<string, string>> {
  return { "error-codes": errorCodesBlock(), "sign-in": await signInBlock(), events: await eventsBlock() };
}

/** The README text with every generated block rewritten. */
export async function renderReadme(text: string): Promise<string> {
  let out = text;
  for (const [name, body] of Object.entries(await blocks())) out = replaceBlock(out, name, body);
  return out;
}
