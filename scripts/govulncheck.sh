#!/usr/bin/env bash
# govulncheck with an offline vulnerability database: this machine cannot
# reach vuln.go.dev, so the database is built from the golang.org/x/vulndb
# module (served by the module proxy) with its own cmd/gendb, once, and
# cached in $BATON_VULNDB (default ~/.cache/baton-vulndb).
#
#   scripts/govulncheck.sh            # scan ./...
#   scripts/govulncheck.sh -show verbose ./...
set -euo pipefail
cd "$(dirname "$0")/.."
VULNDB_VERSION=${VULNDB_VERSION:-v0.0.0-20261105234957-e22db6528018}
VULN_VERSION=${VULN_VERSION:-v1.9.0}
db=${BATON_VULNDB:-$HOME/.cache/baton-vulndb}
gobin=$(go env GOPATH)/bin

if [ ! -x "$gobin/govulncheck" ]; then
	(cd /tmp && GOFLAGS='' go install "golang.org/x/vuln/cmd/govulncheck@$VULN_VERSION")
fi
if [ ! -f "$db/index/db.json" ] && [ ! -d "$db/ID" ]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && go mod init vulndb-fetch >/dev/null 2>&1 && GOFLAGS=-mod=mod go mod download "golang.org/x/vulndb@$VULNDB_VERSION")
	src=$(go env GOMODCACHE)/golang.org/x/vulndb@$VULNDB_VERSION
	mkdir -p "$tmp/repo"
	cp -r "$src/data" "$tmp/repo/" && chmod -R u+w "$tmp/repo"
	git -C "$tmp/repo" init -q
	git -C "$tmp/repo" add -A
	git -C "$tmp/repo" -c user.email=ci@baton -c user.name=ci commit -qm "vulndb $VULNDB_VERSION"
	(cd "$src" && go run ./cmd/gendb -repo "$tmp/repo" -out "$db")
fi
if [ $# -eq 0 ]; then
	set -- ./...
fi
exec "$gobin/govulncheck" -db "file://$db" "$@"
