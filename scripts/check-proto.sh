#!/usr/bin/env bash
# `buf breaking` against the previous commit: a change that breaks a wire contract of proto/ fails
# `npm run check` until it is made compatible (or the contract is versioned: nova.<service>.v2).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! git rev-parse -q --verify 'HEAD~1^{commit}' >/dev/null; then
  echo "check-proto: no previous commit in this clone (shallow?): buf breaking has nothing to compare against" >&2
  exit 0
fi
exec npx buf breaking --against '.git#ref=HEAD~1'
