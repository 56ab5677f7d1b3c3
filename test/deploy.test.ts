/**
 * The deployment (deploy/, docker-compose.yml, Dockerfile) against the module
 * table (src/runtime/modules.ts) and the config schema (src/runtime/config.ts).
 *
 * Renders each kustomize overlay with the kustomize that `scripts/deploy-tools`
 * installs (outside git, in ${NOVA_CACHE_DIR:-~/.cache/nova}/bin) and checks,
 * for every module of the table: a Deployment running `serve --target=<module>`,
 * its Service, every config variable it needs (secrets only through Secrets),
 * hardened containers, probes, a drain that fits the grace period, HPA or KEDA,
 * a PDB, mTLS certificate and NetworkPolicies following the call graph.
 * Without the tools the suite fails; it never skips.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import client from "prom-client";
import { loadConfig, SECRET_VARS } from "../src/runtime/config.ts";
import type { ModuleDef } from "../src/runtime/module.ts";
import { allowedCallers, type ModuleName, moduleDef, moduleNames } from "../src/runtime/modules.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const CACHE_DIR = process.env.NOVA_CACHE_DIR || join(homedir(), ".cache", "nova");
const OVERLAYS = ["dev", "prod"] as const;
const CONSUMER_TEMPLATE = "deploy/k8s/templates/kafka-consumer";

/**
 * Secrets a module needs beyond what the table implies, because its process refuses to start without them
 * when distributed: identity signs tokens (src/services/identity/module.ts); gateway, realtime, identity
 * (revoked sessions) and moderation (account standing) use the pub/sub bus, `ctx.bus()`, which is Redis
 * across processes (src/runtime/app.ts).
 */
const MODULE_SECRETS: Readonly<Record<string, readonly string[]>> = {
  identity: ["JWT_PRIVATE_KEY", "REDIS_URL"],
  gateway: ["REDIS_URL"],
  realtime: ["REDIS_URL"],
  moderation: ["REDIS_URL"],
};
/** Harmless values that satisfy the config schema, standing in for mounted secrets when validating a container's env. */
const SECRET_STAND_INS: Record<(typeof SECRET_VARS)[number], string> = {
  DATABASE_URL: "postgres://nova@pgbouncer:6432/nova",
  DATABASE_READ_URL: "postgres://nova@pgbouncer:6432/nova_ro",
  REDIS_URL: "redis://redis:6379",
  JWT_PRIVATE_KEY: "-----BEGIN PRIVATE KEY-----\nstand-in\n-----END PRIVATE KEY-----",
  S3_ACCESS_KEY_ID: "stand-in-access-key",
  S3_SECRET_ACCESS_KEY: "stand-in-secret-key",
  SMTP_URL: "smtp://mail:587",
  PUSH_VAPID_PRIVATE_KEY: "standInVapidPrivateKey-standInVapidPrivateK",
};

// ---------------------------------------------------------------- types

type Labels = Record<string, string>;
interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Labels; annotations?: Labels };
  data?: Record<string, string>;
}
interface LabelSelector {
  matchLabels?: Labels;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string } };
  /** where it was found: env, or the ConfigMap of an envFrom */
  source?: string;
}
interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type: string };
}
interface Probe {
  httpGet?: { path: string; port: number | string };
  grpc?: { port: number; service?: string };
  tcpSocket?: { port: number | string };
  exec?: { command: string[] };
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  command?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: SecurityContext;
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number }; exec?: { command: string[] } } };
  volumeMounts?: { name: string; mountPath: string; subPath?: string }[];
}
interface Volume {
  name: string;
  secret?: { secretName: string; items?: { key: string; path: string }[] };
  configMap?: { name: string };
  emptyDir?: object;
}
interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  securityContext?: SecurityContext;
  terminationGracePeriodSeconds?: number;
}
interface Deployment extends Doc {
  spec: {
    replicas?: number;
    selector: { matchLabels: Labels };
    strategy?: { type?: string; rollingUpdate?: { maxSurge?: string | number; maxUnavailable?: string | number } };
    template: { metadata: { labels: Labels }; spec: PodSpec };
  };
}
interface Service extends Doc {
  spec: { selector: Labels; ports: { name?: string; port: number; targetPort?: number | string }[] };
}
interface Hpa extends Doc {
  spec: {
    scaleTargetRef: { kind: string; name: string };
    minReplicas?: number;
    maxReplicas: number;
    metrics?: { type: string; resource?: { name: string }; pods?: { metric: { name: string } } }[];
  };
}
interface Pdb extends Doc {
  spec: { selector: LabelSelector; maxUnavailable?: number | string; minAvailable?: number | string };
}
interface NetPol extends Doc {
  spec: {
    podSelector: LabelSelector;
    policyTypes?: string[];
    ingress?: {
      from?: { podSelector?: LabelSelector; namespaceSelector?: LabelSelector; ipBlock?: object }[];
      ports?: { port?: number | string }[];
    }[];
  };
}
interface Certificate extends Doc {
  spec: {
    secretName: string;
    isCA?: boolean;
    uris?: string[];
    dnsNames?: string[];
    usages?: string[];
    issuerRef: { name: string; kind?: string };
  };
}
interface Issuer extends Doc {
  spec: { ca?: { secretName: string }; selfSigned?: object };
}
interface ScaledObject extends Doc {
  spec: {
    scaleTargetRef: { name: string; kind?: string };
    minReplicaCount?: number;
    maxReplicaCount?: number;
    triggers: { type: string; metadata: Record<string, string>; authenticationRef?: { name: string } }[];
  };
}
interface KafkaTopic extends Doc {
  spec: { partitions?: number; replicas?: number; config?: Record<string, unknown>; topicName?: string };
}

// ---------------------------------------------------------------- tools

function tool(name: string): string {
  const path = join(CACHE_DIR, "bin", name);
  if (!existsSync(path)) {
    throw new Error(
      `${path} is missing: run \`npm test\` (scripts/install.ts installs it) or \`bash scripts/deploy-tools\` (it installs kustomize and the other deployment tools into ${CACHE_DIR}, outside git)`,
    );
  }
  return path;
}

function yamlToJson<T>(yaml: string): T[] {
  return JSON.parse(
    execFileSync(tool("nova-yaml2json"), [], { input: yaml, encoding: "utf8", maxBuffer: 64 << 20 }),
  ) as T[];
}

function render(dir: string): Doc[] {
  const yaml = execFileSync(tool("kustomize"), ["build", join(ROOT, dir)], { encoding: "utf8", maxBuffer: 64 << 20 });
  return yamlToJson<Doc>(yaml);
}

// ---------------------------------------------------------------- helpers

function ofKind<T extends Doc>(docs: Doc[], kind: string): T[] {
  return docs.filter((d) => d.kind === kind) as T[];
}

function named<T extends Doc>(docs: Doc[], kind: string, name: string): T | undefined {
  return ofKind<T>(docs, kind).find((d) => d.metadata.name === name);
}

function selects(sel: LabelSelector, labels: Labels): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key] ?? "";
    if (e.operator === "In" && !(has && (e.values ?? []).includes(value))) return false;
    if (e.operator === "NotIn" && has && (e.values ?? []).includes(value)) return false;
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
  }
  return true;
}

const podLabels = (d: Deployment) => d.spec.template.metadata.labels;
const novaContainer = (d: Deployment) => d.spec.template.spec.containers.find((c) => c.name === "nova");
const isNovaImage = (c: Container, name = "nova(-media)?") => new RegExp(`^([^/]+/)*${name}(:|@|$)`).test(c.image);
/** The image a target's container runs: media's has ffmpeg for video (the Dockerfile's `media` stage). */
const imageOf = (module: ModuleName) => (module === "media" ? "nova-media" : "nova");

function deploymentOf(docs: Doc[], module: string): Deployment | undefined {
  const found = ofKind<Deployment>(docs, "Deployment").filter(
    (d) => podLabels(d)["app.kubernetes.io/name"] === "nova" && podLabels(d)["app.kubernetes.io/component"] === module,
  );
  assert.ok(found.length <= 1, `more than one Deployment for module ${module}`);
  return found[0];
}

/** The container's environment as the kubelet builds it: envFrom ConfigMaps in order, then env. */
function resolveEnv(docs: Doc[], c: Container, where: string): Map<string, EnvVar> {
  const env = new Map<string, EnvVar>();
  for (const from of c.envFrom ?? []) {
    assert.ok(!from.secretRef, `${where}: envFrom secretRef hides which secrets are used; mount them as *_FILE`);
    const name = from.configMapRef?.name ?? "";
    const cm = named(docs, "ConfigMap", name);
    assert.ok(cm, `${where}: envFrom ConfigMap ${name} is not in the rendered manifests`);
    for (const [k, v] of Object.entries(cm.data ?? {})) env.set(k, { name: k, value: v, source: `ConfigMap ${name}` });
  }
  for (const e of c.env ?? []) env.set(e.name, { ...e, source: "env" });
  return env;
}

/** How a secret reaches the container: a secretKeyRef or a *_FILE inside a mounted Secret; undefined when absent. */
function secretSource(
  name: string,
  env: Map<string, EnvVar>,
  c: Container,
  pod: PodSpec,
  where: string,
): string | undefined {
  const direct = env.get(name);
  if (direct) {
    assert.equal(
      direct.value,
      undefined,
      `${where}: ${name} is a secret and must not be written out (${direct.source})`,
    );
    assert.ok(direct.valueFrom?.secretKeyRef, `${where}: ${name} must come from a Secret (secretKeyRef)`);
    return `secretKeyRef ${direct.valueFrom.secretKeyRef.name}/${direct.valueFrom.secretKeyRef.key}`;
  }
  const file = env.get(`${name}_FILE`)?.value;
  if (file === undefined) return undefined;
  return secretFile(file, c, pod, `${where}: ${name}_FILE`);
}

/** Asserts that `path` is a file of a Secret volume mounted in the container; returns the Secret's name. */
function secretFile(path: string, c: Container, pod: PodSpec, what: string): string {
  const mount = (c.volumeMounts ?? []).find((m) => path.startsWith(`${m.mountPath}/`));
  assert.ok(mount, `${what}=${path} is not inside any volume mounted in container ${c.name}`);
  const volume = (pod.volumes ?? []).find((v) => v.name === mount.name);
  assert.ok(volume?.secret, `${what}=${path}: volume ${mount.name} is not a Secret`);
  const rel = path.slice(mount.mountPath.length + 1);
  if (volume.secret.items) {
    assert.ok(
      volume.secret.items.some((i) => i.path === rel),
      `${what}=${path}: Secret volume ${mount.name} projects no file ${rel}`,
    );
  }
  return volume.secret.secretName;
}

function containerPort(c: Container, name: string): number | undefined {
  return c.ports?.find((p) => p.name === name)?.containerPort;
}

/** The table's optional future fields, read without widening ModuleDef. */
function consumes(def: ModuleDef): readonly string[] {
  return (def as { consumes?: readonly string[] }).consumes ?? [];
}

const usesRpc = (def: ModuleDef) => (def.provides?.length ?? 0) > 0 || def.deps.length > 0;

function checkHardened(docs: Doc[], source: string): void {
  for (const d of ofKind<Deployment>(docs, "Deployment")) {
    const pod = d.spec.template.spec;
    const all = [...(pod.initContainers ?? []), ...pod.containers];
    for (const c of all) {
      const where = `${source}: Deployment ${d.metadata.name}, container ${c.name}`;
      const sc = c.securityContext ?? {};
      const psc = pod.securityContext ?? {};
      assert.equal(sc.runAsNonRoot ?? psc.runAsNonRoot, true, `${where}: runAsNonRoot`);
      assert.equal(sc.readOnlyRootFilesystem, true, `${where}: readOnlyRootFilesystem`);
      assert.equal(sc.allowPrivilegeEscalation, false, `${where}: allowPrivilegeEscalation false`);
      assert.notEqual(sc.privileged, true, `${where}: privileged`);
      assert.ok(sc.capabilities?.drop?.includes("ALL"), `${where}: capabilities drop ALL`);
      assert.deepEqual(sc.capabilities?.add ?? [], [], `${where}: no added capabilities`);
      assert.equal(
        (sc.seccompProfile ?? psc.seccompProfile)?.type,
        "RuntimeDefault",
        `${where}: seccomp RuntimeDefault`,
      );
      const uid = sc.runAsUser ?? psc.runAsUser;
      if (isNovaImage(c)) assert.ok(uid !== undefined && uid >= 10000, `${where}: runs as UID >= 10000 (got ${uid})`);
      else assert.ok(uid === undefined || uid > 0, `${where}: runAsUser is not root`);
      for (const kind of ["requests", "limits"] as const) {
        for (const r of ["cpu", "memory"]) {
          assert.ok(c.resources?.[kind]?.[r], `${where}: resources.${kind}.${r}`);
        }
      }
      if ((pod.initContainers ?? []).includes(c)) continue;
      for (const p of ["startupProbe", "livenessProbe", "readinessProbe"] as const) {
        assert.ok(c[p], `${where}: ${p}`);
      }
      assert.ok(c.lifecycle?.preStop, `${where}: preStop hook`);
    }
    // Only the emptyDir at /tmp is writable; everything else is read-only.
    for (const v of pod.volumes ?? []) {
      if (v.emptyDir) {
        for (const c of all) {
          for (const m of c.volumeMounts ?? []) {
            if (m.name === v.name) {
              assert.equal(m.mountPath, "/tmp", `${source}: ${d.metadata.name}: writable emptyDir only at /tmp`);
            }
          }
        }
      }
    }
  }
}

/** Checks a target's Deployment as the module table and config.ts require; returns its scaling kind. */
function checkTarget(docs: Doc[], module: ModuleName, overlay: string): void {
  const def = moduleDef(module);
  const at = `${overlay}: ${module}`;
  const dep = deploymentOf(docs, module);
  assert.ok(
    dep,
    `${at}: no Deployment with app.kubernetes.io/component=${module} (add deploy/k8s/base/targets/${module}/)`,
  );
  const pod = dep.spec.template.spec;
  const c = novaContainer(dep);
  assert.ok(c, `${at}: Deployment ${dep.metadata.name} has no container named nova`);
  assert.ok(isNovaImage(c, imageOf(module)), `${at}: the container runs the ${imageOf(module)} image (got ${c.image})`);
  assert.deepEqual(c.args, ["serve", `--target=${module}`], `${at}: runs \`nova serve --target=${module}\``);
  assert.ok(selects({ matchLabels: dep.spec.selector.matchLabels }, podLabels(dep)), `${at}: selector matches pods`);
  const role = dep.metadata.labels?.["nova.dev/role"] ?? "";
  assert.ok(["edge", "service", "consumer", "worker"].includes(role), `${at}: label nova.dev/role (got "${role}")`);
  const provides = def.provides ?? [];
  if (provides.length > 0) assert.equal(role, "service", `${at}: provides gRPC services, so role service`);
  else assert.notEqual(role, "service", `${at}: role service but the table gives it no services`);
  if (consumes(def).length > 0) assert.ok(["consumer", "service"].includes(role), `${at}: consumes topics`);

  // rollout
  assert.equal(dep.spec.strategy?.type ?? "RollingUpdate", "RollingUpdate", `${at}: RollingUpdate`);
  assert.equal(dep.spec.strategy?.rollingUpdate?.maxSurge, "25%", `${at}: maxSurge 25%`);
  assert.equal(dep.spec.strategy?.rollingUpdate?.maxUnavailable, "25%", `${at}: maxUnavailable 25%`);
  assert.equal(dep.spec.replicas, undefined, `${at}: replicas are left to the autoscaler`);

  // configuration
  const env = resolveEnv(docs, c, at);
  const literal = (k: string) => {
    const v = env.get(k);
    assert.ok(v && v.value !== undefined, `${at}: ${k} must be set`);
    return v.value as string;
  };
  const required = ["NODE_ENV", "LOG_LEVEL", "HOST", "ADMIN_PORT", "SHUTDOWN_GRACE_MS"];
  if (provides.length > 0) required.push("RPC_PORT");
  if (role === "edge") required.push("PORT", "REQUEST_TIMEOUT_MS");
  if (usesRpc(def)) required.push("NOVA_TLS_CA_FILE", "NOVA_TLS_CERT_FILE", "NOVA_TLS_KEY_FILE", "RPC_TIMEOUT_MS");
  if (def.migrations) required.push("MIGRATE_ON_START", "DB_POOL_MAX");
  for (const dep of def.deps) required.push(`${dep.toUpperCase()}_ADDR`);
  for (const k of required) literal(k);
  assert.ok(["0.0.0.0", "::"].includes(literal("HOST")), `${at}: HOST must bind all interfaces for probes and peers`);
  assert.equal(Number(literal("ADMIN_PORT")), containerPort(c, "admin"), `${at}: ADMIN_PORT = container port admin`);
  if (provides.length > 0)
    assert.equal(Number(literal("RPC_PORT")), containerPort(c, "grpc"), `${at}: RPC_PORT = container port grpc`);
  if (role === "edge") assert.equal(Number(literal("PORT")), containerPort(c, "http"), `${at}: PORT = port http`);
  if (def.migrations) assert.equal(literal("MIGRATE_ON_START"), "false", `${at}: migrations run in the initContainer`);

  const secrets: string[] = [...(MODULE_SECRETS[module] ?? [])];
  if (def.migrations) secrets.push("DATABASE_URL", "DATABASE_READ_URL");
  for (const s of SECRET_VARS) {
    const how = secretSource(s, env, c, pod, at);
    if (secrets.includes(s)) assert.ok(how, `${at}: needs ${s} (as ${s}_FILE from a Secret, or a secretKeyRef)`);
  }

  // the whole environment passes Nova's own config schema (secrets replaced by stand-ins)
  const plain: Record<string, string> = {};
  for (const [k, v] of env) if (v.value !== undefined) plain[k] = v.value;
  for (const s of SECRET_VARS) {
    if (plain[`${s}_FILE`] !== undefined || env.get(s)) {
      delete plain[`${s}_FILE`];
      plain[s] = SECRET_STAND_INS[s];
    }
  }
  const config = loadConfig(plain, { identity: module });
  for (const d of def.deps) {
    const url = new URL(config.peerAddr(d));
    const svc = named<Service>(docs, "Service", url.hostname);
    assert.ok(svc, `${at}: ${d.toUpperCase()}_ADDR points at Service ${url.hostname}, which is not rendered`);
    assert.ok(
      svc.spec.ports.some((p) => p.port === Number(url.port)),
      `${at}: Service ${url.hostname} has no port ${url.port}`,
    );
  }

  // mTLS: a Certificate naming the module, mounted where NOVA_TLS_*_FILE point
  if (usesRpc(def)) {
    const certs = ofKind<Certificate>(docs, "Certificate").filter((x) =>
      (x.spec.uris ?? []).includes(`spiffe://nova/${module}`),
    );
    assert.equal(certs.length, 1, `${at}: one cert-manager Certificate with URI SAN spiffe://nova/${module}`);
    const cert = certs[0] as Certificate;
    assert.deepEqual(cert.spec.uris, [`spiffe://nova/${module}`], `${at}: the certificate names only its module`);
    const issuer = named<Issuer>(docs, "Issuer", cert.spec.issuerRef.name);
    assert.ok(issuer?.spec.ca, `${at}: certificate issued by the CA Issuer ${cert.spec.issuerRef.name}`);
    assert.ok(cert.spec.usages?.includes("client auth"), `${at}: certificate usage client auth`);
    for (const k of ["NOVA_TLS_CA_FILE", "NOVA_TLS_CERT_FILE", "NOVA_TLS_KEY_FILE"]) {
      const secret = secretFile(literal(k), c, pod, `${at}: ${k}`);
      assert.equal(secret, cert.spec.secretName, `${at}: ${k} is in the certificate's Secret ${cert.spec.secretName}`);
    }
    if (provides.length > 0) {
      assert.ok(cert.spec.usages?.includes("server auth"), `${at}: certificate usage server auth`);
      assert.ok(cert.spec.dnsNames?.includes(module), `${at}: certificate DNS name ${module} (its Service)`);
    }
  }

  // migrations: `nova migrate --target=<module>` before the server starts
  if (def.migrations) {
    const init = (pod.initContainers ?? []).find((x) => x.args?.[0] === "migrate");
    assert.ok(init, `${at}: an initContainer runs \`nova migrate --target=${module}\``);
    assert.deepEqual(init.args, ["migrate", `--target=${module}`], `${at}: migrate only this module's schema`);
    const initEnv = resolveEnv(docs, init, `${at} (migrate)`);
    assert.ok(secretSource("DATABASE_URL", initEnv, init, pod, `${at} (migrate)`), `${at}: migrate needs DATABASE_URL`);
  }

  // Services: gRPC for providers, HTTP for the edge, none needed otherwise
  const services = ofKind<Service>(docs, "Service").filter((s) =>
    selects({ matchLabels: s.spec.selector }, podLabels(dep)),
  );
  if (provides.length > 0) {
    const svc = services.find((s) => s.metadata.name === module);
    assert.ok(svc, `${at}: a Service named ${module} (the default ${module.toUpperCase()}_ADDR host)`);
    assert.ok(
      svc.spec.ports.some((p) => p.port === 50051 && p.targetPort === "grpc"),
      `${at}: Service ${module} exposes 50051 -> grpc`,
    );
  }
  if (role === "edge") {
    assert.ok(
      services.some((s) => s.spec.ports.some((p) => p.targetPort === "http")),
      `${at}: a Service exposes the HTTP port`,
    );
  }

  // probes: HTTP /healthz + /readyz on the edge, grpc.health.v1 on ADMIN_PORT elsewhere
  const admin = Number(literal("ADMIN_PORT"));
  if (role === "edge") {
    for (const [p, path] of [
      ["startupProbe", "/healthz"],
      ["livenessProbe", "/healthz"],
      ["readinessProbe", "/readyz"],
    ] as const) {
      assert.equal(c[p]?.httpGet?.path, path, `${at}: ${p} is HTTP GET ${path}`);
      assert.equal(c[p]?.httpGet?.port, "http", `${at}: ${p} on the HTTP port`);
    }
  } else {
    for (const p of ["startupProbe", "livenessProbe", "readinessProbe"] as const) {
      assert.equal(c[p]?.grpc?.port, admin, `${at}: ${p} is a gRPC health probe on ADMIN_PORT ${admin}`);
    }
    if (provides.length > 0) {
      const names = provides.map((s) => s.typeName);
      assert.ok(
        names.includes(c.readinessProbe?.grpc?.service ?? ""),
        `${at}: readiness asks grpc.health.v1 about one of ${names.join(", ")}`,
      );
    }
  }

  // graceful shutdown: preStop, then SHUTDOWN_GRACE_MS of drain, inside the grace period
  const grace = pod.terminationGracePeriodSeconds ?? 30;
  const preStop = c.lifecycle?.preStop?.sleep?.seconds ?? 0;
  const drainMs = Number(literal("SHUTDOWN_GRACE_MS"));
  assert.ok(
    grace * 1000 >= preStop * 1000 + drainMs + 5000,
    `${at}: terminationGracePeriodSeconds ${grace} must exceed preStop ${preStop} s + SHUTDOWN_GRACE_MS ${drainMs} ms + 5 s`,
  );

  // scaling: HPA for stateless targets, KEDA on Kafka lag for consumers; never both
  const hpas = ofKind<Hpa>(docs, "HorizontalPodAutoscaler").filter(
    (h) => h.spec.scaleTargetRef.kind === "Deployment" && h.spec.scaleTargetRef.name === dep.metadata.name,
  );
  const scaled = ofKind<ScaledObject>(docs, "ScaledObject").filter(
    (s) => s.spec.scaleTargetRef.name === dep.metadata.name,
  );
  assert.equal(hpas.length + scaled.length, 1, `${at}: exactly one HPA or KEDA ScaledObject`);
  if (role === "consumer" || consumes(def).length > 0) {
    const so = scaled[0];
    assert.ok(so, `${at}: a consumer is scaled by a KEDA ScaledObject on consumer lag`);
    const topics = so.spec.triggers.filter((t) => t.type === "kafka").map((t) => t.metadata.topic);
    for (const t of consumes(def)) assert.ok(topics.includes(t), `${at}: a kafka trigger for topic ${t}`);
    // A service (or the edge) that also consumes keeps the signals its HPA would have had: KEDA owns
    // the HPA, so CPU and the request rate become triggers next to the lag (the rate through Prometheus,
    // for this module in this overlay's namespace).
    if (role !== "consumer") {
      assert.ok(
        so.spec.triggers.some((t) => t.type === "cpu"),
        `${at}: serves requests, so its ScaledObject has a cpu trigger`,
      );
      const metric = role === "edge" ? "nova_http_requests_total" : "nova_rpc_server_handled_total";
      const rate = so.spec.triggers.find((t) => t.type === "prometheus" && t.metadata.query?.includes(metric));
      assert.ok(rate, `${at}: serves requests, so a prometheus trigger on the rate of ${metric}`);
      for (const label of [`component="${module}"`, `namespace="${dep.metadata.namespace}"`]) {
        assert.ok(rate.metadata.query?.includes(label), `${at}: the request-rate query selects ${label}`);
      }
      assert.ok(Number(rate.metadata.threshold) > 0, `${at}: request-rate threshold (per pod)`);
    }
  } else {
    const hpa = hpas[0];
    assert.ok(hpa, `${at}: a stateless target has a HorizontalPodAutoscaler`);
    assert.ok(
      hpa.spec.metrics?.some((m) => m.type === "Resource" && m.resource?.name === "cpu"),
      `${at}: HPA on CPU`,
    );
    if (role !== "worker") {
      assert.ok(
        hpa.spec.metrics?.some((m) => /requests_per_second$/.test(m.pods?.metric.name ?? "")),
        `${at}: HPA on requests per second`,
      );
    }
    assert.ok((hpa.spec.minReplicas ?? 1) >= 1 && hpa.spec.maxReplicas >= (hpa.spec.minReplicas ?? 1), `${at}: HPA`);
  }

  // a PodDisruptionBudget covers the pods
  const pdbs = ofKind<Pdb>(docs, "PodDisruptionBudget").filter((p) => selects(p.spec.selector, podLabels(dep)));
  assert.equal(pdbs.length, 1, `${at}: one PodDisruptionBudget selects its pods`);
}

/** Ingress rules that can reach a pod with these labels on `port` (undefined ports = all). */
function ingressTo(docs: Doc[], labels: Labels, port: number) {
  return ofKind<NetPol>(docs, "NetworkPolicy")
    .filter((p) => selects(p.spec.podSelector, labels))
    .flatMap((p) => (p.spec.ingress ?? []).map((r) => ({ policy: p.metadata.name, rule: r })))
    .filter(({ rule }) => !rule.ports || rule.ports.some((x) => x.port === undefined || Number(x.port) === port));
}

function checkNetwork(docs: Doc[], overlay: string): void {
  const policies = ofKind<NetPol>(docs, "NetworkPolicy");
  assert.ok(
    policies.some(
      (p) =>
        Object.keys(p.spec.podSelector).length === 0 &&
        (p.spec.policyTypes ?? []).includes("Ingress") &&
        (p.spec.ingress ?? []).length === 0,
    ),
    `${overlay}: a default-deny ingress NetworkPolicy`,
  );
  const edge = new Set<string>();
  for (const m of moduleNames) {
    const dep = deploymentOf(docs, m);
    if (!dep) continue;
    const labels = podLabels(dep);
    if (dep.metadata.labels?.["nova.dev/role"] === "edge") edge.add(m);
    // nothing but the edge is open to everyone
    for (const { policy, rule } of policies
      .filter((p) => selects(p.spec.podSelector, labels))
      .flatMap((p) => (p.spec.ingress ?? []).map((r) => ({ policy: p.metadata.name, rule: r })))) {
      if (!rule.from || rule.from.length === 0) {
        assert.ok(edge.has(m), `${overlay}: ${policy} opens ${m} to everyone; only the edge may be`);
      }
    }
    // gRPC: exactly the callers the module table allows
    for (const s of moduleDef(m).provides ?? []) {
      const callers = [...allowedCallers(s.typeName)].sort();
      // every workload of the namespace (modules, PgBouncer, ...) that some rule lets in
      const allowed = new Set<string>();
      for (const od of ofKind<Deployment>(docs, "Deployment")) {
        const reach = ingressTo(docs, labels, 50051).some(({ rule }) =>
          (rule.from ?? [{}]).some((f) => !f.namespaceSelector && selects(f.podSelector ?? {}, podLabels(od))),
        );
        if (reach) allowed.add(podLabels(od)["app.kubernetes.io/component"] ?? od.metadata.name);
      }
      assert.deepEqual([...allowed].sort(), callers, `${overlay}: who may reach ${m}:50051 follows the module table`);
      assert.ok(
        ingressTo(docs, labels, 50051).every(({ rule }) => (rule.from ?? []).every((f) => !f.namespaceSelector)),
        `${overlay}: ${m}:50051 admits no other namespace`,
      );
    }
  }
  assert.ok(edge.size > 0, `${overlay}: an edge target exists`);
  for (const store of ["pgbouncer", "postgres", "redis", "kafka"]) {
    const labels: Labels =
      store === "pgbouncer" ? { "app.kubernetes.io/name": "pgbouncer" } : { "nova.dev/datastore": store };
    const rules = policies
      .filter((p) => selects(p.spec.podSelector, labels))
      .flatMap((p) => (p.spec.ingress ?? []).map((r) => ({ policy: p.metadata.name, rule: r })));
    assert.ok(rules.length > 0, `${overlay}: a NetworkPolicy admits clients of ${store}`);
    for (const { policy, rule } of rules) {
      assert.ok((rule.from ?? []).length > 0, `${overlay}: ${policy} must name who may reach ${store}`);
      for (const f of rule.from ?? []) assert.ok(!f.ipBlock, `${overlay}: ${policy}: no ipBlock for ${store}`);
    }
  }
}

function checkKafka(docs: Doc[], topicsFrom: Doc[], where: string): void {
  const topics = ofKind<KafkaTopic>(topicsFrom, "KafkaTopic");
  for (const so of ofKind<ScaledObject>(docs, "ScaledObject")) {
    const at = `${where}: ScaledObject ${so.metadata.name}`;
    const target = named<Deployment>(docs, "Deployment", so.spec.scaleTargetRef.name);
    assert.ok(target, `${at}: scales Deployment ${so.spec.scaleTargetRef.name}, which is not rendered`);
    const module = podLabels(target)["app.kubernetes.io/component"];
    const kafka = so.spec.triggers.filter((t) => t.type === "kafka");
    assert.ok(kafka.length > 0, `${at}: scales on Kafka consumer lag`);
    assert.ok((so.spec.minReplicaCount ?? 0) >= 1, `${at}: keeps at least one consumer`);
    for (const t of kafka) {
      // Consumer groups are handler names, `<module>.<handler>` (the runtime refuses other names).
      assert.ok(
        t.metadata.consumerGroup?.startsWith(`${module}.`),
        `${at}: consumer group ${t.metadata.consumerGroup} is one of ${module}'s handlers (${module}.<handler>)`,
      );
      assert.ok(Number(t.metadata.lagThreshold) > 0, `${at}: lagThreshold`);
      const topic = topics.find((k) => (k.spec.topicName ?? k.metadata.name) === t.metadata.topic);
      assert.ok(topic, `${at}: topic ${t.metadata.topic} has a KafkaTopic`);
      // Lag never justifies more consumers than partitions (extra ones sit idle). A pure consumer does
      // nothing else, so its ceiling is the partition count. A service that also consumes serves RPCs on
      // every replica: CPU and request rate may take it past the partitions, so only the lag trigger is
      // bounded, by KEDA itself as long as allowIdleConsumers stays off.
      if (target.metadata.labels?.["nova.dev/role"] === "consumer") {
        assert.ok(
          (so.spec.maxReplicaCount ?? 100) <= (topic.spec.partitions ?? 1),
          `${at}: maxReplicaCount ${so.spec.maxReplicaCount} <= partitions of ${t.metadata.topic}`,
        );
      } else {
        assert.notEqual(
          t.metadata.allowIdleConsumers,
          "true",
          `${at}: lag must not add idle consumers beyond the partitions of ${t.metadata.topic}`,
        );
      }
      const auth = t.authenticationRef?.name;
      assert.ok(auth && named(docs, "TriggerAuthentication", auth), `${at}: TriggerAuthentication ${auth} rendered`);
    }
  }
}

// ---------------------------------------------------------------- suites

let rendered: Record<(typeof OVERLAYS)[number], Doc[]> | undefined;
let template: Doc[] = [];
let setupError: Error | undefined;
try {
  rendered = { dev: render("deploy/k8s/overlays/dev"), prod: render("deploy/k8s/overlays/prod") };
  template = render(CONSUMER_TEMPLATE);
} catch (err) {
  setupError = err as Error;
}

test("the deployment tools are installed and every overlay renders", () => {
  if (setupError) throw setupError;
});

for (const overlay of OVERLAYS) {
  describe(`kustomize overlay ${overlay}`, () => {
    const docs = () => {
      if (!rendered) throw setupError ?? new Error("not rendered");
      return rendered[overlay];
    };

    test("every module of the table is deployed as the table and config.ts require", () => {
      for (const m of moduleNames) checkTarget(docs(), m, overlay);
    });

    test("no Deployment runs a target the module table does not know", () => {
      for (const d of ofKind<Deployment>(docs(), "Deployment")) {
        const c = novaContainer(d);
        if (!c) continue;
        const target = (c.args ?? []).find((a) => a.startsWith("--target="))?.slice("--target=".length) ?? "";
        for (const t of target.split(",")) assert.ok(moduleNames.includes(t as ModuleName), `${d.metadata.name}: ${t}`);
      }
    });

    test("every container is hardened, sized and probed", () => {
      checkHardened(docs(), overlay);
    });

    test("secrets are referenced, never defined", () => {
      assert.deepEqual(ofKind(docs(), "Secret"), [], "no Secret objects in the manifests");
      for (const cm of ofKind(docs(), "ConfigMap")) {
        for (const k of Object.keys(cm.data ?? {})) {
          assert.ok(!(SECRET_VARS as readonly string[]).includes(k), `ConfigMap ${cm.metadata.name} holds secret ${k}`);
          assert.ok(!/password|secret|token/i.test(k), `ConfigMap ${cm.metadata.name}: ${k} looks like a secret`);
        }
      }
    });

    test("NetworkPolicies: only the edge is public; gRPC follows the call graph; data stores only from Nova", () => {
      checkNetwork(docs(), overlay);
    });

    test("PgBouncer runs in transaction mode behind a Service, with a PDB", () => {
      const d = named<Deployment>(docs(), "Deployment", "nova-pgbouncer");
      assert.ok(d, "Deployment nova-pgbouncer");
      assert.ok((d.spec.replicas ?? 1) >= (overlay === "prod" ? 2 : 1), "PgBouncer replicas");
      const ini = ofKind(docs(), "ConfigMap")
        .map((cm) => cm.data?.["pgbouncer.ini"])
        .find(Boolean);
      assert.match(ini ?? "", /^pool_mode = transaction$/m, "pool_mode = transaction");
      assert.match(ini ?? "", /^auth_file = \/etc\/pgbouncer\/auth\//m, "auth_file from the mounted Secret");
      const svc = named<Service>(docs(), "Service", "pgbouncer");
      assert.ok(
        svc?.spec.ports.some((p) => p.port === 6432),
        "Service pgbouncer:6432",
      );
      assert.ok(
        ofKind<Pdb>(docs(), "PodDisruptionBudget").some((p) => selects(p.spec.selector, podLabels(d))),
        "PgBouncer PDB",
      );
    });

    test("Kafka topics: Strimzi KafkaTopic per topic, replication 3, min.insync.replicas 2", () => {
      const topics = ofKind<KafkaTopic>(docs(), "KafkaTopic");
      const names = topics.map((t) => t.spec.topicName ?? t.metadata.name);
      for (const required of ["nova.identity.user", "nova.dlq"]) assert.ok(names.includes(required), required);
      const pattern = new RegExp(`^nova\\.(dlq|(${moduleNames.join("|")})\\.[a-z][a-z0-9_]*)$`);
      for (const t of topics) {
        const at = `KafkaTopic ${t.metadata.name}`;
        // no offline schema for Strimzi: its fields are checked here instead of by kubeconform
        assert.equal(t.apiVersion, "kafka.strimzi.io/v1", `${at}: apiVersion`);
        assert.ok(t.metadata.labels?.["strimzi.io/cluster"], `${at}: label strimzi.io/cluster`);
        for (const k of Object.keys(t.spec))
          assert.ok(["partitions", "replicas", "config", "topicName"].includes(k), k);
        assert.match(t.spec.topicName ?? t.metadata.name, pattern, `${at}: named nova.<service>.<aggregate>`);
        assert.ok(Number.isInteger(t.spec.partitions) && (t.spec.partitions ?? 0) >= 1, `${at}: partitions`);
        assert.equal(t.spec.replicas, 3, `${at}: replication factor 3`);
        assert.equal(Number(t.spec.config?.["min.insync.replicas"]), 2, `${at}: min.insync.replicas 2`);
      }
      checkKafka(docs(), docs(), overlay);
    });

    test("cert-manager: a CA Issuer signs the service certificates", () => {
      const issuers = ofKind<Issuer>(docs(), "Issuer").filter((i) => i.spec.ca);
      assert.equal(issuers.length, 1, "one CA Issuer");
      const ca = ofKind<Certificate>(docs(), "Certificate").find(
        (c) => c.spec.isCA && c.spec.secretName === issuers[0]?.spec.ca?.secretName,
      );
      assert.ok(ca, "the CA Certificate behind the Issuer");
    });

    test("the namespace enforces the restricted Pod Security Standard", () => {
      const ns = ofKind(docs(), "Namespace");
      assert.equal(ns.length, 1);
      assert.equal(ns[0]?.metadata.labels?.["pod-security.kubernetes.io/enforce"], "restricted");
    });

    if (overlay === "prod") {
      test("prod: pinned image, production mode, at least two replicas of every autoscaled target", () => {
        for (const d of ofKind<Deployment>(docs(), "Deployment")) {
          for (const c of [...(d.spec.template.spec.initContainers ?? []), ...d.spec.template.spec.containers]) {
            const tag = /:([^:/@]+)$/.exec(c.image)?.[1];
            assert.ok(c.image.includes("@sha256:") || (tag && !["latest", "dev"].includes(tag)), `pinned: ${c.image}`);
          }
          const env = novaContainer(d) ? resolveEnv(docs(), novaContainer(d) as Container, d.metadata.name) : undefined;
          if (env) assert.equal(env.get("NODE_ENV")?.value, "production", `${d.metadata.name}: NODE_ENV`);
        }
        for (const h of ofKind<Hpa>(docs(), "HorizontalPodAutoscaler")) {
          assert.ok((h.spec.minReplicas ?? 1) >= 2, `${h.metadata.name}: minReplicas >= 2 in prod`);
        }
        for (const so of ofKind<ScaledObject>(docs(), "ScaledObject")) {
          assert.ok((so.spec.minReplicaCount ?? 0) >= 2, `${so.metadata.name}: minReplicaCount >= 2 in prod`);
        }
      });
    }
  });
}

describe("the Kafka consumer template (deploy/k8s/templates/kafka-consumer)", () => {
  test("is hardened, probed, KEDA-scaled on lag and covered by a PDB", () => {
    if (setupError || !rendered) throw setupError ?? new Error("not rendered");
    checkHardened(template, "template");
    const deps = ofKind<Deployment>(template, "Deployment");
    assert.equal(deps.length, 1);
    const dep = deps[0] as Deployment;
    assert.equal(dep.metadata.labels?.["nova.dev/role"], "consumer");
    assert.equal(ofKind(template, "HorizontalPodAutoscaler").length, 0, "KEDA owns the HPA");
    assert.equal(ofKind(template, "ScaledObject").length, 1);
    checkKafka(template, rendered.dev, "template");
    assert.ok(ofKind<Pdb>(template, "PodDisruptionBudget").some((p) => selects(p.spec.selector, podLabels(dep))));
    const c = novaContainer(dep) as Container;
    for (const p of ["startupProbe", "livenessProbe", "readinessProbe"] as const) assert.ok(c[p]?.grpc, p);
  });
});

// ---------------------------------------------------------------- compose, image, observability

interface ComposeService {
  image?: string;
  command?: string[] | null;
  environment?: Record<string, string | null>;
  read_only?: boolean;
  user?: string;
  cap_drop?: string[];
  security_opt?: string[];
}

describe("docker-compose.yml", () => {
  const load = () =>
    JSON.parse(execFileSync(tool("nova-composecheck"), [join(ROOT, "docker-compose.yml")], { encoding: "utf8" })) as {
      services: Record<string, ComposeService>;
    };

  test("runs every module of the table as its own hardened container", () => {
    const { services } = load();
    for (const m of moduleNames) {
      const s = Object.values(services).find((x) => x.command?.join(" ") === `serve --target=${m}`);
      assert.ok(s, `a compose service runs \`nova serve --target=${m}\``);
      // the secrets its process cannot start without, as files from the secrets volume
      const needs = [...(MODULE_SECRETS[m] ?? []), ...(moduleDef(m).migrations ? ["DATABASE_URL"] : [])];
      for (const v of needs) assert.ok(s.environment?.[`${v}_FILE`], `compose ${m}: needs ${v}_FILE`);
    }
    for (const [name, s] of Object.entries(services)) {
      assert.ok(s.cap_drop?.includes("ALL"), `${name}: cap_drop ALL`);
      assert.ok(s.security_opt?.includes("no-new-privileges:true"), `${name}: no-new-privileges`);
      if (!s.image?.startsWith("nova:") && !s.image?.includes("${")) continue;
      assert.equal(s.read_only, true, `${name}: read-only root filesystem`);
      const uid = Number((s.user ?? "0").split(":")[0]);
      assert.ok(uid >= 10000, `${name}: runs as UID >= 10000`);
      for (const v of SECRET_VARS) {
        assert.equal(s.environment?.[v], undefined, `${name}: ${v} only as ${v}_FILE`);
      }
    }
  });

  test("creates the same Kafka topics as the Kubernetes manifests", () => {
    if (!rendered) throw setupError ?? new Error("not rendered");
    const { services } = load();
    const script = services["kafka-topics"]?.command?.join("\n") ?? "";
    const local = (/for t in ([^;]+);/.exec(script)?.[1] ?? "")
      .trim()
      .split(/\s+/)
      .map((x) => x.split(":")[0])
      .sort();
    const k8s = ofKind<KafkaTopic>(rendered.prod, "KafkaTopic")
      .map((t) => t.spec.topicName ?? t.metadata.name)
      .sort();
    assert.deepEqual(local, k8s);
  });
});

describe("Dockerfile", () => {
  const text = readFileSync(join(ROOT, "Dockerfile"), "utf8");
  const stages = [...text.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)];

  test("multi-stage, distroless Node runtime last, non-root numeric user, target chosen by arguments", () => {
    assert.ok(stages.length >= 2, "multi-stage");
    const last = text.slice(text.lastIndexOf("\nFROM "));
    assert.match(text, /^ARG RUNTIME_IMAGE=\S*distroless\/nodejs\d+/m, "distroless Node.js runtime");
    assert.match(last, /^FROM \$\{RUNTIME_IMAGE\}/m, "the last stage (default target) is the runtime");
    const user = /^USER (\d+)(?::(\d+))?$/m.exec(last);
    assert.ok(user && Number(user[1]) >= 10000, "USER is a numeric UID >= 10000");
    assert.match(last, /^ENTRYPOINT \["\/nodejs\/bin\/node", "bin\/nova\.mjs"\]$/m, "entrypoint node bin/nova.mjs");
    assert.doesNotMatch(last, /^(RUN|VOLUME)\b/m, "nothing runs or writes in the runtime stage");
  });

  test(".dockerignore keeps local secrets and data out of the build context", () => {
    const ignore = readFileSync(join(ROOT, ".dockerignore"), "utf8").split("\n");
    assert.equal(
      ignore.find((l) => l.trim() && !l.startsWith("#")),
      "*",
      "allow-list: everything is ignored first",
    );
    assert.ok(!ignore.some((l) => /^!\.nova/.test(l)), ".nova stays out");
  });
});

describe("observability", () => {
  const obs = join(ROOT, "deploy/observability");

  /** Metric names the code registers today, and prom-client's defaults with Nova's prefix. */
  function exportedMetrics(): Set<string> {
    const names = new Set<string>();
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith(".ts")) {
          for (const m of readFileSync(p, "utf8").matchAll(/\b(?:counter|gauge|histogram)\(\s*"(nova_[a-z0-9_]+)"/g)) {
            names.add(m[1] as string);
          }
        }
      }
    };
    walk(join(ROOT, "src"));
    const registry = new client.Registry();
    client.collectDefaultMetrics({ register: registry, prefix: "nova_" });
    for (const m of registry.getMetricsAsArray()) names.add(m.name);
    return names;
  }

  function plannedMetrics(): Set<string> {
    const names = new Set<string>();
    for (const line of readFileSync(join(obs, "README.md"), "utf8").split("\n")) {
      if (!line.startsWith("|") || !line.includes("planned")) continue;
      for (const m of (line.split("|")[1] ?? "").matchAll(/`(nova_[a-z0-9_]+)`/g)) names.add(m[1] as string);
    }
    return names;
  }

  const base = (n: string) => n.replace(/_(bucket|sum|count)$/, "");

  test("the dashboard covers RED per target, feed latency, outbox and consumer lag, DLQ, cache by tier, breakers", () => {
    for (const f of readdirSync(join(obs, "dashboards"))) {
      const dash = JSON.parse(readFileSync(join(obs, "dashboards", f), "utf8")) as {
        uid: string;
        panels: { type: string; title: string; targets?: { expr: string }[] }[];
      };
      assert.ok(dash.uid, `${f}: uid`);
      const exprs = dash.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)).join("\n");
      for (const [what, re] of [
        ["gateway rate/errors/duration", /nova_http_request_seconds_bucket/],
        ["RPC rate/errors per target", /nova_rpc_server_handled_total\{[^}]*\}\[[^\]]+\]\)\)|by \(component/],
        ["RPC duration", /nova_rpc_server_handling_seconds_bucket/],
        ["feed latency", /nova\.feed\.v1\.FeedService/],
        ["outbox lag", /nova_outbox_lag_seconds/],
        ["consumer lag", /kafka_consumergroup_lag/],
        ["DLQ size", /nova_dlq_messages/],
        ["cache hit ratio by tier", /by \(tier\)[^\n]*nova_cache_requests_total/],
        ["breaker state", /nova_rpc_breaker_open/],
      ] as const) {
        assert.match(exprs, re, `${f}: a panel for ${what}`);
      }
      const known = new Set([...exportedMetrics(), ...plannedMetrics()]);
      for (const m of exprs.matchAll(/\bnova_[a-z0-9_]+/g)) {
        assert.ok(known.has(base(m[0])), `${f}: ${m[0]} is neither exported by src/ nor planned in README.md`);
      }
    }
  });

  test("every alert has severity, summary, description and a runbook note, on known metrics", () => {
    const known = new Set([...exportedMetrics(), ...plannedMetrics()]);
    const files = readdirSync(join(obs, "alerts")).filter((f) => f.endsWith(".yaml"));
    const groups = yamlToJson<{ groups: { rules: Record<string, unknown>[] }[] }>(
      files.map((f) => readFileSync(join(obs, "alerts", f), "utf8")).join("\n---\n"),
    ).flatMap((d) => d.groups);
    const alerts = groups.flatMap((g) => g.rules).filter((r) => r.alert);
    assert.ok(alerts.length >= 10, "alert rules");
    for (const r of alerts as { alert: string; expr: string; labels?: Labels; annotations?: Labels }[]) {
      assert.ok(["critical", "warning", "info"].includes(r.labels?.severity ?? ""), `${r.alert}: severity`);
      for (const a of ["summary", "description", "runbook"]) assert.ok(r.annotations?.[a], `${r.alert}: ${a}`);
      for (const m of r.expr.matchAll(/\bnova_[a-z0-9_]+/g)) {
        assert.ok(known.has(base(m[0])), `${r.alert}: ${m[0]} is neither exported by src/ nor planned`);
      }
    }
    assert.ok(existsSync(join(dirname(join(obs, "alerts", "x")), "tests")), "alert unit tests");
  });
});
