/**
 * A service's declaration of the events it writes (ARCHITECTURE §4): one aggregate, its topic
 * `nova.<service>.<aggregate>`, and a zod schema per event type. `defineEvents` gives the writers
 * `event` (the payload typed by its schema) and `write` (into the outbox, in the caller's
 * transaction), and the consumers `parse` (every declared field) and `reader` (only the fields a
 * consumer uses, a pick of the declared schema). Both sides' types come from the same schema, so a
 * payload change breaks writers and consumers at compile time.
 *
 * A type a declaration does not know is left alone (undefined), so a consumer ignores events it
 * does not handle. A payload that does not match throws a `PayloadError` naming the field (the
 * consumer framework then retries the event and parks it in the DLQ with that message). Schemas
 * accept added keys, so a new field does not break a consumer that does not know it yet.
 */
import type { Transaction } from "kysely";
import { z } from "zod";
import { isUuid } from "../validate.ts";
import { type Envelope, topicOf } from "./envelope.ts";
import type { NewEvent, Outbox } from "./outbox.ts";

/** An id in a payload: a UUID. Nova writes them in lower case; upper case is accepted and read lower-cased. */
export function payloadId(noun = "an id") {
  return z
    .string()
    .refine((v) => isUuid(v.toLowerCase()), `must be ${noun} (UUID)`)
    .transform((v) => v.toLowerCase());
}

/** A received payload that does not match its declared schema; the message names the field. */
export class PayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PayloadError";
  }
}

type Schemas = Record<string, z.ZodObject>;
type TypeOf<S extends Schemas> = keyof S & string;

/** An event of the declaration, ready for the outbox (only `event` makes one). */
export interface DeclaredEvent<A extends string = string, T extends string = string> extends NewEvent {
  readonly type: T;
  readonly aggregateType: A;
}

/** A received event, discriminated by its type. */
export type Received<S extends Schemas> = { [T in TypeOf<S>]: { type: T; payload: z.output<S[T]> } }[TypeOf<S>];

/** What a consumer reads of one type: each field it uses, `true`, or `"optional"` when it has a default for it. */
export type FieldMask<S extends z.ZodObject> = { [K in keyof S["shape"]]?: true | "optional" };
export type Masks<S extends Schemas> = { [T in TypeOf<S>]?: FieldMask<S[T]> };

/** The declared output type of the fields a mask names (those marked "optional" may be missing). */
export type View<O, M> = {
  [K in keyof M & keyof O as M[K] extends "optional" ? never : K]: O[K];
} & { [K in keyof M & keyof O as M[K] extends "optional" ? K : never]?: O[K] };

/** A received event as a consumer reads it: its type and the fields its mask names. */
export type ReadEvent<S extends Schemas, M extends Masks<S>> = {
  [T in keyof M & TypeOf<S>]: { type: T; payload: View<z.output<S[T]>, M[T]> };
}[keyof M & TypeOf<S>];

export interface EventSet<S extends Schemas, A extends string> {
  readonly service: string;
  readonly aggregate: A;
  /** `nova.<service>.<aggregate>`. */
  readonly topic: string;
  readonly schemas: S;
  readonly types: TypeOf<S>[];
  /** An event's aggregate id (its Kafka key) from its payload. */
  readonly key: (payload: z.input<S[TypeOf<S>]>) => string;
  /** The event of `type` done by `actorId`, keyed by the declaration's key of its payload. */
  event<T extends TypeOf<S>>(type: T, actorId: string | null, payload: z.input<S[T]>): DeclaredEvent<A, T>;
  /** Writes events into the outbox inside the caller's transaction (whatever its tables' type). */
  write<DB>(outbox: Outbox, trx: Transaction<DB>, ...events: DeclaredEvent<A, TypeOf<S>>[]): Promise<Envelope[]>;
  has(type: string): type is TypeOf<S>;
  /** The typed event of an envelope; undefined for a type not declared here; throws PayloadError. */
  parse(env: Envelope): Received<S> | undefined;
  /** The payload of an envelope that must be of `type`; throws PayloadError otherwise. */
  payload<T extends TypeOf<S>>(type: T, env: Envelope): z.output<S[T]>;
  /**
   * A parse of only the types and fields a consumer uses (each a pick of the declared schema, the
   * fields marked "optional" allowed to be missing); undefined for any other type.
   */
  reader<M extends Masks<S>>(masks: M): (env: Envelope) => ReadEvent<S, M> | undefined;
}

/** Whether a value is a declaration made by `defineEvents` (the README's event table finds them so). */
export function isEventSet(value: unknown): value is EventSet<Schemas, string> {
  const v = value as Partial<EventSet<Schemas, string>> | null;
  return typeof v === "object" && v !== null && typeof v.topic === "string" && typeof v.reader === "function";
}

/** The declared schema's payload checked, or a PayloadError naming each field that does not match. */
export function checkPayload<Z extends z.ZodType>(schema: Z, env: Envelope): z.output<Z> {
  const r = schema.safeParse(env.payload);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => `${fieldOf(i.path)}: ${i.message}`).join("; ");
  throw new PayloadError(`${env.type} ${env.id}: ${issues}`);
}

/** `payload.recipientIds[0]`. */
function fieldOf(path: PropertyKey[]): string {
  return `payload${path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("")}`;
}

/**
 * The events `service` writes about `aggregate`, with their payload schemas; `key` is the aggregate
 * id of an event (its Kafka key, so one aggregate's events stay in order).
 */
export function defineEvents<const A extends string, S extends Schemas>(
  service: string,
  aggregate: A,
  schemas: S,
  key: (payload: z.input<S[TypeOf<S>]>) => string,
): EventSet<S, A> {
  const has = (type: string): type is TypeOf<S> => Object.hasOwn(schemas, type);
  const schemaOf = (type: TypeOf<S>) => schemas[type] as S[TypeOf<S>];
  return {
    service,
    aggregate,
    topic: topicOf(service, aggregate),
    schemas,
    types: Object.keys(schemas) as TypeOf<S>[],
    key,
    has,
    event: (type, actorId, payload) => ({
      type,
      aggregateType: aggregate,
      aggregateId: key(payload),
      actorId,
      payload: payload as Record<string, unknown>,
    }),
    // The outbox takes any schema's transaction; its rows are the outbox's own table.
    write: (outbox, trx, ...events) => outbox.emit(trx as unknown as Transaction<unknown>, ...events),
    parse(env) {
      if (!has(env.type)) return undefined;
      return { type: env.type, payload: checkPayload(schemaOf(env.type), env) } as Received<S>;
    },
    payload(type, env) {
      if (env.type !== type) throw new PayloadError(`expected a ${type} event, got ${env.type} (${env.id})`);
      return checkPayload(schemaOf(type), env) as z.output<S[typeof type]>;
    },
    reader(masks) {
      const views = new Map<string, z.ZodObject>();
      for (const [type, mask] of Object.entries(masks as Record<string, Record<string, true | "optional">>)) {
        if (!has(type)) throw new Error(`${topicOf(service, aggregate)} declares no ${type}`);
        // The masks zod takes: { field: true }. (Typed loosely here; ReadEvent gives the precise type.)
        const fields = (names: string[]) => Object.fromEntries(names.map((n) => [n, true])) as Record<never, true>;
        const optional = Object.keys(mask).filter((n) => mask[n] === "optional");
        views.set(
          type,
          schemaOf(type)
            .pick(fields(Object.keys(mask)))
            .partial(fields(optional)),
        );
      }
      return (env) => {
        const view = views.get(env.type);
        if (!view) return undefined;
        return { type: env.type, payload: checkPayload(view, env) } as ReadEvent<S, typeof masks>;
      };
    },
  };
}
