#!/usr/bin/env bash
# npm run local: everything from a fresh clone — system packages, npm dependencies, the cluster's
# binaries (built from their Go modules on first use) — then the local cluster and the walk-through.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

bash scripts/install-system-deps.sh
# Install (again) only when node_modules is missing or older than the lock file.
if [[ ! -x node_modules/.bin/tsx || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi
bash test/cluster/build/build-binaries.sh
exec node_modules/.bin/tsx test/cluster/local.ts "$@"
