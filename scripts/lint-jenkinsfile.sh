#!/usr/bin/env bash
# Lints the Jenkinsfile with npm-groovy-lint (Groovy syntax + CodeNarc), failing on any error-level
# finding. It does not know the declarative schema (a misspelled directive passes): the contract test
# contract/jenkinsfile_test.go checks that every `sh` step calls something that exists.
set -euo pipefail
cd "$(dirname "$0")/.."

WANT=16.2.0
export PATH=${SCALEAPP_TOOLS:-$HOME/.cache/scaleapp-tools}/bin:$PATH
command -v npm-groovy-lint >/dev/null || { echo "lint-jenkinsfile: npm-groovy-lint is not installed: run scripts/install-tools.sh npm" >&2; exit 2; }
# The version from package.json: `npm-groovy-lint --version` starts a CodeNarc server that outlives it.
pkg=$(dirname "$(readlink -f "$(command -v npm-groovy-lint)")")/../package.json
have=$(jq -r .version "$pkg" 2>/dev/null || true)
[ "$have" = "$WANT" ] ||
  { echo "lint-jenkinsfile: npm-groovy-lint $WANT wanted, found '${have:-unknown}' ($pkg); run scripts/install-tools.sh npm" >&2; exit 2; }

t0=$SECONDS
npm-groovy-lint --noserver --failon error Jenkinsfile
echo "lint-jenkinsfile: Jenkinsfile clean at error level ($((SECONDS - t0)) s)"
