/**
 * Custom scalars with validation: Email, Username, URL (https), Cursor and
 * DateTime. Input is checked at the edge; the services still validate and
 * normalise (defence in depth), with the same rules. Output values are
 * passed through (DateTime is normalised to RFC 3339), so older data never
 * turns a read into an error.
 *
 * A bad literal is reported before validation by `checkScalarLiterals`, as
 * BAD_USER_INPUT naming the input field (e.g. `email`, `media[0].url`); a
 * bad variable value is reported by graphql-js with the same code (see
 * errors.ts, ScalarError).
 */
import {
  type ArgumentNode,
  type DocumentNode,
  type GraphQLInputType,
  type GraphQLSchema,
  getNullableType,
  isInputObjectType,
  isListType,
  isScalarType,
  Kind,
  TypeInfo,
  type ValueNode,
  visit,
  visitWithTypeInfo,
} from "graphql";
import { z } from "zod";
import { invalid } from "../platform/errors.ts";
import { textProblem } from "../platform/validate.ts";

/** A scalar input value that breaks its rule; the message is the problem, without the field. */
export class ScalarError extends TypeError {
  constructor(
    readonly scalar: string,
    problem: string,
  ) {
    super(problem);
    this.name = "ScalarError";
  }
}

const email = z.email();
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

type Check = (v: string) => string;

const checks: Record<string, Check> = {
  Email(v) {
    const t = v.trim();
    if (t.length === 0 || t.length > 254) throw new ScalarError("Email", "must be 1 to 254 characters");
    if (!email.safeParse(t).success) throw new ScalarError("Email", "is not a valid email address");
    return t;
  },
  Username(v) {
    const t = v.trim();
    if (t.length < 3 || t.length > 30) throw new ScalarError("Username", "must be 3 to 30 characters");
    if (!/^[A-Za-z0-9_]+$/.test(t)) throw new ScalarError("Username", "may contain only letters a-z, digits and _");
    return t;
  },
  URL(v) {
    const t = v.trim();
    if (t.length > 2048) throw new ScalarError("URL", "must be at most 2048 characters");
    let u: URL;
    try {
      u = new URL(t);
    } catch {
      throw new ScalarError("URL", "is not a valid URL");
    }
    if (u.protocol !== "https:") throw new ScalarError("URL", "must be an https URL");
    if (u.username || u.password) throw new ScalarError("URL", "must not contain credentials");
    return t;
  },
  Cursor(v) {
    if (v.length > 512 || !/^[A-Za-z0-9_-]*={0,2}$/.test(v)) {
      throw new ScalarError("Cursor", "is not a cursor this API gave out");
    }
    return v;
  },
  DateTime(v) {
    if (!RFC3339.test(v) || Number.isNaN(Date.parse(v))) {
      throw new ScalarError("DateTime", "must be an RFC 3339 date-time (e.g. 2025-01-31T12:00:00Z)");
    }
    return v;
  },
};

function inputOf(name: string) {
  const check = checks[name] as Check;
  return (value: unknown) => {
    if (typeof value !== "string") throw new ScalarError(name, "must be a string");
    return check(value);
  };
}

function serializeDateTime(value: unknown): string {
  const d = value instanceof Date ? value : typeof value === "string" ? new Date(value) : undefined;
  if (!d || Number.isNaN(d.getTime())) throw new TypeError(`DateTime cannot represent ${JSON.stringify(value)}`);
  if (typeof value === "string" && RFC3339.test(value)) return value;
  return d.toISOString();
}

function serializeString(name: string) {
  return (value: unknown) => {
    if (typeof value !== "string") throw new TypeError(`${name} cannot represent a non-string value`);
    return value;
  };
}

/** For Mercurius' defineResolvers: the functions of each scalar declared in schema.graphql. */
export const scalarResolvers: Record<
  string,
  { serialize(v: unknown): unknown; parseValue(v: unknown): unknown; parseLiteral(node: ValueNode): unknown }
> = Object.fromEntries(
  Object.keys(checks).map((name) => {
    const parse = inputOf(name);
    return [
      name,
      {
        serialize: name === "DateTime" ? serializeDateTime : serializeString(name),
        parseValue: parse,
        parseLiteral(node: ValueNode) {
          if (node.kind !== Kind.STRING) throw new ScalarError(name, "must be a string");
          return parse(node.value);
        },
      },
    ];
  }),
);

/**
 * `input.media[0].url` -> `media[0].url`: the services name fields without the
 * argument (or variable) that carries the input object.
 */
export function fieldName(path: string): string {
  return path.replace(/^[^.[]+\./, "");
}

/**
 * Checks every literal value given to one of the scalars above and throws
 * BAD_USER_INPUT naming the field. Runs before validation; unknown fields
 * and arguments are skipped (validation reports those).
 */
export function checkScalarLiterals(schema: GraphQLSchema, doc: DocumentNode): void {
  const info = new TypeInfo(schema);
  const check = (value: ValueNode, type: GraphQLInputType | undefined, path: string) => {
    if (!type || value.kind === Kind.VARIABLE || value.kind === Kind.NULL) return;
    const t = getNullableType(type);
    if (isListType(t)) {
      if (value.kind !== Kind.LIST) check(value, t.ofType, path);
      else for (const [i, v] of value.values.entries()) check(v, t.ofType, `${path}[${i}]`);
    } else if (isInputObjectType(t)) {
      if (value.kind !== Kind.OBJECT) return;
      const fields = t.getFields();
      for (const f of value.fields) check(f.value, fields[f.name.value]?.type, `${path}.${f.name.value}`);
    } else if (value.kind === Kind.STRING && textProblem(value.value)) {
      // Every string (String, ID and the scalars above): no NUL, no lone surrogate (platform/validate.ts).
      throw invalid(fieldName(path), textProblem(value.value) as string);
    } else if (isScalarType(t) && checks[t.name] && value.kind === Kind.STRING) {
      try {
        (checks[t.name] as Check)(value.value);
      } catch (err) {
        if (err instanceof ScalarError) throw invalid(fieldName(path), err.message);
        throw err;
      }
    }
  };
  visit(
    doc,
    visitWithTypeInfo(info, {
      Argument(node: ArgumentNode) {
        check(node.value, info.getArgument()?.type, node.name.value);
      },
    }),
  );
}

/** Where each variable is used: `$q` in `search(query: $q)` -> `query`, so errors name the field, not the variable. */
function variableFields(doc: DocumentNode): Map<string, string> {
  const at = new Map<string, string>();
  const walk = (value: ValueNode, path: string) => {
    if (value.kind === Kind.VARIABLE) {
      if (!at.has(value.name.value)) at.set(value.name.value, path);
    } else if (value.kind === Kind.LIST) {
      for (const [i, v] of value.values.entries()) walk(v, `${path}[${i}]`);
    } else if (value.kind === Kind.OBJECT) {
      for (const f of value.fields) walk(f.value, `${path}.${f.name.value}`);
    }
  };
  visit(doc, { Argument: (node: ArgumentNode) => walk(node.value, node.name.value) });
  return at;
}

const fieldsOf = new WeakMap<DocumentNode, Map<string, string>>();

/**
 * Every string anywhere in the variables obeys the rule of every input
 * (well-formed, no NUL), before anything runs: one check at the edge for all
 * String, ID and custom-scalar inputs, with BAD_USER_INPUT naming the field.
 */
export function checkVariableText(doc: DocumentNode, variables: Record<string, unknown> | null | undefined): void {
  if (!variables) return;
  let fields = fieldsOf.get(doc);
  if (!fields) {
    fields = variableFields(doc);
    fieldsOf.set(doc, fields);
  }
  const walk = (v: unknown, path: string) => {
    if (typeof v === "string") {
      const problem = textProblem(v);
      if (problem) throw invalid(fieldName(path), problem);
    } else if (Array.isArray(v)) {
      for (const [i, x] of v.entries()) walk(x, `${path}[${i}]`);
    } else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) walk(x, `${path}.${k}`);
    }
  };
  for (const [name, v] of Object.entries(variables)) walk(v, fields.get(name) ?? name);
}
