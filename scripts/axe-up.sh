#!/usr/bin/env bash
# axe-core for the browser tests' accessibility checks: from the npm registry, at the version and
# integrity pinned by tests/e2e/axe/package-lock.json (npm ci verifies it), no install scripts run.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
dir="$here/tests/e2e/axe"
"$here/scripts/debian-package.sh" npm npm axe-up
wanted=$(sed -n 's/.*"axe-core": "\(.*\)".*/\1/p' "$dir/package.json")
installed=$(sed -n 's/^  "version": "\(.*\)".*/\1/p' "$dir/node_modules/axe-core/package.json" 2>/dev/null || true)
if [ "$installed" = "$wanted" ] && [ -f "$dir/node_modules/axe-core/axe.min.js" ]; then
  exit 0
fi
echo "axe-up: installing axe-core $wanted from the npm registry"
npm ci --prefix "$dir" --ignore-scripts --no-audit --no-fund --loglevel=error
test -f "$dir/node_modules/axe-core/axe.min.js"
