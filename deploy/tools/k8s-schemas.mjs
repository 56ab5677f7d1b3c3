#!/usr/bin/env node
/**
 * Writes strict JSON schemas for kubeconform, offline:
 *
 *   node deploy/tools/k8s-schemas.mjs --out DIR --swagger swagger.json [--crds crds.json]
 *
 * --swagger  the Kubernetes OpenAPI v2 document (api/openapi-spec/swagger.json
 *            of the k8s.io/kubernetes Go module). One schema per kind, named as
 *            kubeconform's `{{ .ResourceKind }}{{ .KindSuffix }}.json` expects
 *            (deployment-apps-v1.json, service-v1.json, ...), under DIR/k8s.
 * --crds     a JSON array of CustomResourceDefinitions (their YAML passed
 *            through yaml2json). One schema per served version, under
 *            DIR/crds/<group>/<kind>_<version>.json (kind in lower case).
 *
 * "Strict" as kubeconform means it: every object that lists its properties
 * gets additionalProperties: false unless it is declared open
 * (additionalProperties, x-kubernetes-preserve-unknown-fields), so a
 * misspelled field is an error. References stay references, into a
 * `definitions` section holding only what the kind reaches.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: { out: { type: "string" }, swagger: { type: "string" }, crds: { type: "string", multiple: true } },
});
if (!values.out || !values.swagger) {
  process.stderr.write("usage: k8s-schemas.mjs --out DIR --swagger swagger.json [--crds crds.json]...\n");
  process.exit(2);
}

const INT_OR_STRING = { oneOf: [{ type: "string" }, { type: "integer" }] };
const QUANTITY = { oneOf: [{ type: "string" }, { type: "number" }] };

/** Rewrites one schema node (recursively), making objects closed and fixing k8s-specific formats. */
function strict(node, refPrefix) {
  if (Array.isArray(node)) return node.map((n) => strict(n, refPrefix));
  if (node === null || typeof node !== "object") return node;
  if (node.format === "int-or-string" || node["x-kubernetes-int-or-string"] === true) {
    const { format: _f, type: _t, "x-kubernetes-int-or-string": _x, ...rest } = node;
    return { ...strict(rest, refPrefix), ...INT_OR_STRING };
  }
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === "$ref" && typeof v === "string") out[k] = v.replace("#/definitions/", refPrefix);
    else if (k === "properties" || k === "patternProperties" || k === "definitions")
      out[k] = Object.fromEntries(Object.entries(v).map(([p, s]) => [p, strict(s, refPrefix)]));
    else if (k === "description" || k === "example") continue;
    else out[k] = strict(v, refPrefix);
  }
  if (out.nullable === true && typeof out.type === "string") out.type = [out.type, "null"];
  delete out.nullable;
  const open = out["x-kubernetes-preserve-unknown-fields"] === true || "additionalProperties" in out;
  if (out.properties && !open) out.additionalProperties = false;
  return out;
}

function write(file, schema) {
  mkdirSync(join(file, ".."), { recursive: true });
  writeFileSync(file, JSON.stringify(schema));
}

// ---------------------------------------------------------------- Kubernetes
const swagger = JSON.parse(readFileSync(values.swagger, "utf8"));
const defs = swagger.definitions;
defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = INT_OR_STRING;
defs["io.k8s.apimachinery.pkg.api.resource.Quantity"] = QUANTITY;

/** Names of every definition that `root` reaches through $ref. */
function reachable(root) {
  const seen = new Set();
  const walk = (n) => {
    if (Array.isArray(n)) for (const x of n) walk(x);
    else if (n && typeof n === "object") {
      for (const [k, v] of Object.entries(n)) {
        if (k === "$ref" && typeof v === "string") {
          const name = v.replace("#/definitions/", "");
          if (!seen.has(name)) {
            seen.add(name);
            walk(defs[name]);
          }
        } else walk(v);
      }
    }
  };
  walk(root);
  return seen;
}

let kinds = 0;
for (const [, def] of Object.entries(defs)) {
  for (const gvk of def["x-kubernetes-group-version-kind"] ?? []) {
    const apiVersion = gvk.group ? `${gvk.group}/${gvk.version}` : gvk.version;
    // kubeconform's KindSuffix: "-" + first label of the group (or the core version) + "-" + version
    const suffix = gvk.group ? `-${gvk.group.split(".")[0]}-${gvk.version}` : `-${gvk.version}`;
    const schema = strict(def, "#/definitions/");
    schema.properties = {
      ...schema.properties,
      apiVersion: { type: "string", enum: [apiVersion] },
      kind: { type: "string", enum: [gvk.kind] },
    };
    schema.definitions = Object.fromEntries([...reachable(def)].map((n) => [n, strict(defs[n], "#/definitions/")]));
    schema.$schema = "http://json-schema.org/draft-07/schema#";
    write(join(values.out, "k8s", `${gvk.kind.toLowerCase()}${suffix.toLowerCase()}.json`), schema);
    kinds++;
  }
}

// ---------------------------------------------------------------------- CRDs
let crds = 0;
for (const file of values.crds ?? []) {
  for (const crd of JSON.parse(readFileSync(file, "utf8"))) {
    if (crd?.kind !== "CustomResourceDefinition") continue;
    const { group, names } = crd.spec;
    for (const v of crd.spec.versions ?? []) {
      const root = v.schema?.openAPIV3Schema;
      if (!root || v.served === false) continue;
      const schema = strict(root, "#/definitions/");
      schema.properties = {
        ...schema.properties,
        apiVersion: { type: "string", enum: [`${group}/${v.name}`] },
        kind: { type: "string", enum: [names.kind] },
        metadata: { type: "object" },
      };
      schema.additionalProperties = false;
      schema.$schema = "http://json-schema.org/draft-07/schema#";
      write(join(values.out, "crds", group, `${names.kind.toLowerCase()}_${v.name}.json`), schema);
      crds++;
    }
  }
}

process.stdout.write(`${JSON.stringify({ out: values.out, kinds, crdVersions: crds })}\n`);
