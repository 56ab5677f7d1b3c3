/**
 * Query limits, checked before anything is validated or executed (ARCHITECTURE §7):
 * tokens, depth, cost, aliases, directives and introspection.
 *
 * Hand-written over graphql-js's lexer and AST rather than taken from a
 * library: graphql-depth-limit and graphql-query-complexity walk fragments
 * once per spread (a "fragment bomb" of a few hundred tokens expands to
 * millions of fields), do not survive fragment cycles before validation, and
 * the maintained complexity libraries need the variables at validation time,
 * which Mercurius's validation cache does not give. Here every fragment is
 * measured once (memoised), cycles are refused, and the cost uses the
 * request's variables.
 */
import {
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  getNamedType,
  isInterfaceType,
  isObjectType,
  Kind,
  Lexer,
  type OperationDefinitionNode,
  parse,
  type SelectionSetNode,
  Source,
  TokenKind,
  type ValueNode,
} from "graphql";
import { invalid, NovaError } from "../platform/errors.ts";
import { DEFAULT_PAGE_SIZE, type QueryLimits } from "./security.ts";

export type OperationKind = "query" | "mutation" | "subscription";

export interface OperationStats {
  kind: OperationKind;
  name: string | undefined;
  depth: number;
  cost: number;
  aliases: number;
  directives: number;
}

/** Counts lexical tokens, stopping as soon as there are more than `max`. */
export function countTokens(source: string, max: number): number {
  const lexer = new Lexer(new Source(source));
  let n = 0;
  try {
    while (lexer.advance().kind !== TokenKind.EOF) {
      if (++n > max) break;
    }
  } catch {
    // A syntax error: the parser reports it properly.
  }
  return n;
}

/** Parses an operation document after the token limit; a syntax error is a coded 400. */
export function parseBounded(source: string, maxTokens: number): DocumentNode {
  const tokens = countTokens(source, maxTokens);
  if (tokens > maxTokens) {
    throw new NovaError("TOO_MANY_TOKENS", `the document has more than ${maxTokens} tokens`, { field: "query" });
  }
  try {
    return parse(source, { maxTokens, noLocation: true });
  } catch (err) {
    const message = err instanceof GraphQLError ? err.message : "the query cannot be parsed";
    throw new NovaError("INVALID_OPERATION", message, { field: "query" });
  }
}

/** The operation a request runs: the named one, or the only one. */
export function selectOperation(doc: DocumentNode, operationName?: string | null): OperationDefinitionNode {
  const ops = doc.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (operationName) {
    const op = ops.find((o) => o.name?.value === operationName);
    if (!op) throw invalid("operationName", `no operation named "${operationName}" in the document`);
    return op;
  }
  if (ops.length !== 1) {
    throw invalid(
      "operationName",
      ops.length ? "is required when the document has several operations" : "no operation",
    );
  }
  return ops[0] as OperationDefinitionNode;
}

interface Stats {
  depth: number;
  cost: number;
  aliases: number;
  directives: number;
}

const ZERO: Stats = { depth: 0, cost: 0, aliases: 0, directives: 0 };
const PAGE_ARGS = new Set(["first", "last", "limit"]);

/**
 * Measures an operation and throws the first limit it breaks. The error names
 * the top-level field under which the limit was broken.
 */
export function checkOperation(
  schema: GraphQLSchema,
  doc: DocumentNode,
  op: OperationDefinitionNode,
  variables: Record<string, unknown> | null | undefined,
  limits: QueryLimits,
): OperationStats {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of doc.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const memo = new Map<string, Stats>();
  const inProgress: string[] = [];
  const vars: Record<string, unknown> = {};
  for (const d of op.variableDefinitions ?? []) {
    if (d.defaultValue?.kind === Kind.INT) vars[d.variable.name.value] = Number.parseInt(d.defaultValue.value, 10);
  }
  Object.assign(vars, variables ?? {});

  const multiplier = (def: GraphQLField<unknown, unknown> | undefined, node: FieldNode): number => {
    if (!def?.args.some((a) => PAGE_ARGS.has(a.name))) return 1;
    for (const arg of node.arguments ?? []) {
      if (!PAGE_ARGS.has(arg.name.value)) continue;
      const n = intValue(arg.value, vars);
      if (n !== undefined) return Math.max(1, n);
    }
    return DEFAULT_PAGE_SIZE;
  };

  const selection = (set: SelectionSetNode, parent: GraphQLNamedType | undefined): Stats => {
    const out = { ...ZERO };
    for (const sel of set.selections) {
      let s: Stats;
      if (sel.kind === Kind.FIELD) {
        const name = sel.name.value;
        if (!limits.introspection && (name === "__schema" || name === "__type")) {
          throw new NovaError("INTROSPECTION_DISABLED", `introspection is disabled ("${name}")`, { field: name });
        }
        const def = parent && (isObjectType(parent) || isInterfaceType(parent)) ? parent.getFields()[name] : undefined;
        const child = sel.selectionSet ? selection(sel.selectionSet, def ? getNamedType(def.type) : undefined) : ZERO;
        s = {
          depth: 1 + child.depth,
          cost: 1 + multiplier(def, sel) * child.cost,
          aliases: (sel.alias ? 1 : 0) + child.aliases,
          directives: (sel.directives?.length ?? 0) + child.directives,
        };
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        const type = sel.typeCondition ? schema.getType(sel.typeCondition.name.value) : parent;
        const child = selection(sel.selectionSet, type ?? undefined);
        s = { ...child, directives: child.directives + (sel.directives?.length ?? 0) };
      } else {
        const child = fragment(sel.name.value);
        s = { ...child, directives: child.directives + (sel.directives?.length ?? 0) };
      }
      out.depth = Math.max(out.depth, s.depth);
      out.cost += s.cost;
      out.aliases += s.aliases;
      out.directives += s.directives;
    }
    return out;
  };

  const fragment = (name: string): Stats => {
    const known = memo.get(name);
    if (known) return known;
    if (inProgress.includes(name)) {
      const cycle = [...inProgress.slice(inProgress.indexOf(name)), name].join(" -> ");
      throw new NovaError("INVALID_OPERATION", `fragment "${name}" spreads itself (${cycle})`, { field: name });
    }
    const def = fragments.get(name);
    if (!def) return ZERO; // Unknown fragment: validation reports it.
    inProgress.push(name);
    const s = selection(def.selectionSet, schema.getType(def.typeCondition.name.value) ?? undefined);
    s.directives += def.directives?.length ?? 0;
    inProgress.pop();
    memo.set(name, s);
    return s;
  };

  const kind = op.operation as OperationKind;
  const root = schema.getRootType(op.operation) ?? undefined;
  const total = { ...ZERO, directives: op.directives?.length ?? 0 };
  // Top-level fields one by one, so the error can name the field that broke the limit.
  for (const sel of op.selectionSet.selections) {
    const s = selection({ kind: Kind.SELECTION_SET, selections: [sel] }, root);
    total.depth = Math.max(total.depth, s.depth);
    total.cost += s.cost;
    total.aliases += s.aliases;
    total.directives += s.directives;
    const field = sel.kind === Kind.FIELD ? (sel.alias ?? sel.name).value : undefined;
    if (total.depth > limits.maxDepth) {
      throw new NovaError(
        "QUERY_TOO_DEEP",
        `query depth ${total.depth} exceeds the maximum of ${limits.maxDepth}${field ? ` (under "${field}")` : ""}`,
        { field },
      );
    }
    if (total.aliases > limits.maxAliases) {
      throw new NovaError("TOO_MANY_ALIASES", `more than ${limits.maxAliases} aliases in the operation`, { field });
    }
    if (total.directives > limits.maxDirectives) {
      throw new NovaError("TOO_MANY_DIRECTIVES", `more than ${limits.maxDirectives} directives in the operation`, {
        field,
      });
    }
    if (total.cost > limits.maxCost) {
      throw new NovaError(
        "QUERY_TOO_COMPLEX",
        `query cost ${total.cost} exceeds the maximum of ${limits.maxCost}${field ? ` (under "${field}")` : ""}`,
        { field },
      );
    }
  }
  return { kind, name: op.name?.value, ...total };
}

function intValue(v: ValueNode, vars: Record<string, unknown>): number | undefined {
  if (v.kind === Kind.INT) return Number.parseInt(v.value, 10);
  if (v.kind === Kind.VARIABLE) {
    const x = vars[v.name.value];
    return typeof x === "number" && Number.isFinite(x) ? Math.floor(x) : undefined;
  }
  return undefined;
}
