#!/usr/bin/env bash
# scripts/check-deploy.sh — `npm run check:deploy`: everything under deploy/,
# the Dockerfile and docker-compose.yml, checked offline with the tools that
# scripts/deploy-tools installs into ${NOVA_CACHE_DIR:-$HOME/.cache/nova}.
#
#   1. kustomize build of each overlay (dev, prod) and of the consumer template
#   2. kubeconform -strict over all of it: Kubernetes, KEDA and cert-manager
#      schemas generated offline; Strimzi's KafkaTopic has no offline schema
#      and is skipped here (test/deploy.test.ts checks its fields instead)
#   3. promtool: check rules, test rules, check config, and every dashboard
#      query parsed as PromQL
#   4. hadolint on the Dockerfile; docker-compose.yml loaded by compose-go
#   5. test/deploy.test.ts (the module table against the rendered manifests)
#
# No Docker engine or Kubernetes cluster is used: nothing is built, pulled,
# applied or run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${NOVA_CACHE_DIR:-$HOME/.cache/nova}"
BIN="$CACHE_DIR/bin"
SCHEMAS="$CACHE_DIR/k8s-schemas"
cd "$ROOT"
# the tools come from the same installer as npm test's (quick when they are there)
node --import tsx scripts/install.ts

# kinds kubeconform cannot check offline (no schema source reachable here)
SKIP_KINDS="kafka.strimzi.io/v1/KafkaTopic"

missing=()
for t in kustomize kubeconform promtool hadolint nova-yaml2json nova-composecheck; do
  [ -x "$BIN/$t" ] || missing+=("$t")
done
[ -f "$SCHEMAS/.complete" ] || missing+=("k8s-schemas")
if [ "${#missing[@]}" -gt 0 ]; then
  echo "check-deploy: missing from $CACHE_DIR: ${missing[*]}" >&2
  echo "check-deploy: run 'bash scripts/deploy-tools' first (installs them outside git)" >&2
  exit 1
fi

started=$SECONDS
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
step() { printf '\n== %s\n' "$*"; }

step "kustomize build"
for overlay in dev prod; do
  "$BIN/kustomize" build "deploy/k8s/overlays/$overlay" >"$out/$overlay.yaml"
  echo "overlays/$overlay: $(grep -c '^kind:' "$out/$overlay.yaml") resources"
done
"$BIN/kustomize" build deploy/k8s/templates/kafka-consumer >"$out/template-kafka-consumer.yaml"
echo "templates/kafka-consumer: $(grep -c '^kind:' "$out/template-kafka-consumer.yaml") resources"

step "kubeconform -strict (skipped kinds: $SKIP_KINDS)"
"$BIN/kubeconform" -strict -summary -output text \
  -schema-location "$SCHEMAS/k8s/{{ .ResourceKind }}{{ .KindSuffix }}.json" \
  -schema-location "$SCHEMAS/crds/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json" \
  -skip "$SKIP_KINDS" \
  "$out/dev.yaml" "$out/prod.yaml" "$out/template-kafka-consumer.yaml"

step "promtool"
"$BIN/promtool" check rules deploy/observability/alerts/*.yaml
(cd deploy/observability/alerts/tests && "$BIN/promtool" test rules ./*.yaml)
(cd deploy/observability && "$BIN/promtool" check config prometheus.yml)
# every dashboard query, with Grafana's variables filled in, must parse as PromQL
# shellcheck disable=SC2016 # JavaScript, not shell, in single quotes
node -e '
  const fs = require("node:fs");
  const rules = [];
  for (const f of process.argv.slice(1)) {
    const walk = (ps) => { for (const p of ps ?? []) { walk(p.panels); for (const t of p.targets ?? [])
      rules.push({ record: `dashboard:panel_${p.id}_${t.refId}`, expr: t.expr
        .replaceAll("$__rate_interval", "5m").replaceAll("$namespace", "nova").replaceAll("$target", ".+") }); } };
    walk(JSON.parse(fs.readFileSync(f, "utf8")).panels);
  }
  process.stdout.write(JSON.stringify({ groups: [{ name: "dashboard-queries", rules }] }));
' deploy/observability/dashboards/*.json >"$out/dashboard-queries.yaml"
"$BIN/promtool" check rules "$out/dashboard-queries.yaml"

step "hadolint Dockerfile"
"$BIN/hadolint" Dockerfile && echo "Dockerfile: ok"

step "docker-compose.yml (compose-go: schema, interpolation, consistency)"
"$BIN/nova-composecheck" docker-compose.yml >"$out/compose.json"
echo "docker-compose.yml: ok ($(node -p 'Object.keys(require(process.argv[1]).services).length' "$out/compose.json") services)"

step "test/deploy.test.ts"
node --import tsx --test --test-reporter=spec test/deploy.test.ts

echo
echo "check-deploy: all passed in $((SECONDS - started)) s (not run here: docker build, a cluster apply; see README)"
