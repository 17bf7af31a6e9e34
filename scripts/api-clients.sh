#!/usr/bin/env bash
# Checks api/openapi.json with the tools a client writer uses:
#
#  1. oasdiff breaking: against api/openapi.baseline.json, the document of
#     the last release. A breaking change fails, named by oasdiff's rule
#     (docs/api.md "Compatibility" says how to roll the baseline at a
#     release). A self-check first proves oasdiff catches one (where jq
#     is installed).
#  2. Where node and npm are installed (skipped otherwise): with the pinned
#     tools of test/openapi-client/ts (npm ci into a temp dir),
#     redocly lint (0 errors; warnings are listed), and openapi-typescript
#     types of the document with test/openapi-client/ts/client.ts using
#     them, type-checked by tsc --strict --noEmit.
#
# The Go client (oapi-codegen) is test/openapi-client's go test.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
doc=api/openapi.json
baseline=api/openapi.baseline.json
oasdiff_pkg=github.com/oasdiff/oasdiff@v1.39.0

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

oasdiff() { go run "$oasdiff_pkg" "$@"; }

echo "api-clients: oasdiff breaking $baseline $doc"
# Self-check (where jq is installed): removing Task.queue, required in
# every task response, must fail and be named.
if command -v jq >/dev/null; then
	jq 'del(.components.schemas.Task.properties.queue) | .components.schemas.Task.required -= ["queue"]' "$doc" >"$tmp/broken.json"
	if out=$(oasdiff breaking "$doc" "$tmp/broken.json" --fail-on ERR --format singleline 2>&1); then
		echo "api-clients: oasdiff did not fail on a removed required response property:" >&2
		echo "$out" >&2
		exit 1
	fi
	if ! grep -q 'response-required-property-removed' <<<"$out"; then
		echo "api-clients: oasdiff failed without naming the removed property:" >&2
		echo "$out" >&2
		exit 1
	fi
	echo "api-clients: oasdiff self-check: a removed required property is caught"
else
	echo "api-clients: jq is not installed; oasdiff's self-check skipped" >&2
fi
if ! oasdiff breaking "$baseline" "$doc" --fail-on ERR --format text; then
	echo "api-clients: $doc breaks clients of $baseline (changes above)." >&2
	echo "Keep the change compatible, or see docs/api.md \"Compatibility\"." >&2
	exit 1
fi
echo "api-clients: oasdiff: no breaking change"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "api-clients: node/npm not installed; redocly lint and the TypeScript check skipped" >&2
	exit 0
fi

ts=test/openapi-client/ts
cp "$ts/package.json" "$ts/package-lock.json" "$ts/tsconfig.json" "$ts/client.ts" "$tmp/"
(cd "$tmp" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true

echo "api-clients: redocly lint $doc"
# stylish lists every problem (warnings too) with its place; redocly exits
# non-zero on an error. The grep drops its Node.js end-of-life banner.
(cd "$tmp" && npx --no-install redocly lint --config "$root/redocly.yaml" --format stylish "$root/$doc" 2>&1) | grep -v '[║╔╚]'

echo "api-clients: openapi-typescript $doc + $ts/client.ts, tsc --strict --noEmit"
(cd "$tmp" && npx --no-install openapi-typescript "$root/$doc" -o baton-api.ts >/dev/null)
(cd "$tmp" && npx --no-install tsc --strict --noEmit -p tsconfig.json)
echo "api-clients: tsc: the generated types and $ts/client.ts type-check"
