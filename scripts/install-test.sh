#!/usr/bin/env bash
# Clean-machine install test: make the linux release archive, unpack it into
# an empty directory, and run baton from there with nothing but a data dir:
# `baton server init`, `baton server` on a free loopback port, then a smoke
# test through the CLI. Everything lives in one temp dir, removed at exit.
#
#   scripts/install-test.sh          # build the archive with `go build`, laid out as goreleaser does
#   scripts/install-test.sh --dist   # test dist/baton_*_linux_<arch>.tar.gz from scripts/release-snapshot.sh
#
# Exits 0 when every step passed, non-zero (with the failing step) otherwise.
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$(pwd)

use_dist=0
case "${1:-}" in
"") ;;
--dist) use_dist=1 ;;
*)
	echo "usage: $0 [--dist]" >&2
	exit 2
	;;
esac

case "$(uname -m)" in
x86_64 | amd64) arch=amd64 ;;
aarch64 | arm64) arch=arm64 ;;
*)
	echo "install-test: unsupported machine $(uname -m)" >&2
	exit 1
	;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/baton-install-test.XXXXXX")
server_pid=""
cleanup() {
	local rc=$?
	if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { echo "==> $*"; }
fail() {
	echo "install-test: FAIL: $*" >&2
	if [ -f "$tmp/server.log" ]; then
		echo "--- server log (last 20 lines) ---" >&2
		tail -n 20 "$tmp/server.log" >&2
	fi
	exit 1
}

# --- the archive ------------------------------------------------------------

version=v0.0.0-installtest
if [ "$use_dist" = 1 ]; then
	archive=$(find dist -maxdepth 1 -name "baton_*_linux_${arch}.tar.gz" 2>/dev/null | head -n 1)
	[ -n "$archive" ] || fail "no dist/baton_*_linux_${arch}.tar.gz: run scripts/release-snapshot.sh first"
	archive="$repo/$archive"
	version=""
	step "using $archive"
else
	step "building the linux/${arch} archive"
	name="baton_0.0.0-installtest_linux_${arch}"
	stage="$tmp/stage/$name"
	mkdir -p "$stage/completions" "$stage/deploy" "$stage/docs"
	# Completions into the staged archive only, never the work tree.
	go run ./internal/gencompletions "$stage/completions" || fail "generate completions"
	CGO_ENABLED=0 GOOS=linux GOARCH="$arch" go build -trimpath \
		-ldflags "-s -w -X github.com/genericcorp/baton/internal/version.Version=${version} -X github.com/genericcorp/baton/internal/version.Commit=$(git rev-parse HEAD 2>/dev/null || echo unknown) -X github.com/genericcorp/baton/internal/version.Date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
		-o "$stage/baton" ./cmd/baton || fail "go build"
	cp README.md LICENSE "$stage/"
	cp deploy/baton.service deploy/baton.env deploy/config.example.yaml "$stage/deploy/"
	cp docs/self-hosting.md "$stage/docs/"
	archive="$tmp/$name.tar.gz"
	tar -C "$tmp/stage" -czf "$archive" "$name"
fi

# --- unpack on a "clean machine" --------------------------------------------

step "unpacking into an empty directory"
root="$tmp/machine"
mkdir -p "$root/home" "$root/config" "$root/opt"
tar -C "$root/opt" -xzf "$archive"
dir=$(find "$root/opt" -mindepth 1 -maxdepth 1 -type d -name 'baton_*' | head -n 1)
[ -n "$dir" ] || fail "the archive has no baton_* directory"
for f in baton README.md LICENSE completions/baton.bash completions/_baton completions/baton.fish completions/baton.ps1; do
	[ -s "$dir/$f" ] || fail "the archive lacks $f"
done
[ -x "$dir/baton" ] || fail "baton is not executable in the archive"
bin="$dir/baton"
data="$root/data"

# Every command runs with an empty environment: no BATON_* variable, no
# config file, no Go toolchain on PATH.
clean_env=(env -i HOME="$root/home" XDG_CONFIG_HOME="$root/config" PATH=/usr/bin:/bin)
clean() { "${clean_env[@]}" "$@"; }

# expect_exit WANT CMD...: run CMD, fail unless it exits WANT.
expect_exit() {
	local want=$1 got=0
	shift
	"$@" >"$tmp/out" 2>"$tmp/err" || got=$?
	if [ "$got" != "$want" ]; then
		cat "$tmp/err" >&2
		local cmd="$*"
		cmd=${cmd#clean }
		cmd=${cmd//$bin/baton}
		# shellcheck disable=SC2001 # a pattern, not a fixed string
		fail "$(echo "$cmd" | sed 's/BATON_API_KEY=[^ ]*/BATON_API_KEY=…/'): exit $got, want $want"
	fi
}

# json_field FILE NAME: the first "NAME": "value" of a pretty-printed JSON file.
json_field() { sed -n "s/.*\"$2\": *\"\([^\"]*\)\".*/\1/p" "$1" | head -n 1; }

step "baton version"
clean "$bin" version -o json >"$tmp/version.json" || fail "baton version"
if [ -n "$version" ] && [ "$(json_field "$tmp/version.json" version)" != "$version" ]; then
	fail "version is $(json_field "$tmp/version.json" version), want $version (ldflags)"
fi

# --- server init and start --------------------------------------------------

step "baton server init"
clean "$bin" server init --data-dir "$data" >"$tmp/operator-key" 2>"$tmp/init.err" || {
	cat "$tmp/init.err" >&2
	fail "baton server init"
}
operator_key=$(head -n 1 "$tmp/operator-key")
case "$operator_key" in
bak_*) ;;
*) fail "server init printed ${operator_key:-nothing}, want a bak_ key" ;;
esac
[ -f "$data/baton.db" ] || fail "no baton.db in the data dir"
[ "$(stat -c %a "$data/secret")" = 600 ] || fail "the secret file is not mode 0600"
expect_exit 1 clean "$bin" server init --data-dir "$data" # only once

step "baton server on 127.0.0.1 (a free port)"
# Not through the clean function: env execs baton, so $! is the server itself.
"${clean_env[@]}" "$bin" server --data-dir "$data" --listen 127.0.0.1:0 >"$tmp/server.log" 2>&1 &
server_pid=$!
url=""
for _ in $(seq 1 100); do
	url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$tmp/server.log" | head -n 1 || true)
	[ -n "$url" ] && break
	kill -0 "$server_pid" 2>/dev/null || fail "the server exited at start"
	sleep 0.1
done
[ -n "$url" ] || fail "the server did not log its URL"
ready=0
for _ in $(seq 1 50); do
	if clean "$bin" server health --url "$url" >/dev/null 2>&1; then
		ready=1
		break
	fi
	sleep 0.1
done
[ "$ready" = 1 ] || fail "the server at $url never became ready"
echo "    serving at $url"

# --- CLI smoke test ---------------------------------------------------------

step "baton login --with-token (the operator key)"
printf '%s\n' "$operator_key" | clean "$bin" login --server "$url" --with-token >/dev/null 2>"$tmp/err" || {
	cat "$tmp/err" >&2
	fail "baton login"
}
[ "$(stat -c %a "$root/config/baton/config.yaml")" = 600 ] || fail "the CLI config file is not mode 0600"
expect_exit 0 clean "$bin" auth status

step "baton workspaces create -o json"
expect_exit 0 clean "$bin" workspaces create smoke --tier pro -o json
cp "$tmp/out" "$tmp/workspace.json"
workspace_id=$(json_field "$tmp/workspace.json" id)
workspace_key=$(json_field "$tmp/workspace.json" secret)
case "$workspace_id:$workspace_key" in
ws_*:bk_*) ;;
*) fail "workspaces create printed no ws_ id and bk_ secret" ;;
esac
expect_exit 0 clean "$bin" workspaces get "$workspace_id" -o json
grep -q '"tier": "pro"' "$tmp/out" || fail "the workspace is not on tier pro"

step "baton keys create / list / revoke"
expect_exit 0 clean BATON_API_KEY="$workspace_key" "$bin" keys create --name smoke --scope keys:read -o json
cp "$tmp/out" "$tmp/key.json"
key_id=$(json_field "$tmp/key.json" id)
key_secret=$(json_field "$tmp/key.json" secret)
case "$key_id:$key_secret" in
key_*:bk_*) ;;
*) fail "keys create printed no key_ id and bk_ secret" ;;
esac
expect_exit 0 clean BATON_API_KEY="$key_secret" "$bin" keys list -o json
grep -q "\"$key_id\"" "$tmp/out" || fail "keys list lacks $key_id"
if grep -q "$key_secret" "$tmp/out"; then
	fail "keys list shows a secret"
fi
expect_exit 0 clean BATON_API_KEY="$workspace_key" "$bin" keys revoke "$key_id" --yes
expect_exit 4 clean BATON_API_KEY="$key_secret" "$bin" keys list # revoked: authentication error
expect_exit 3 clean BATON_API_KEY="$workspace_key" "$bin" keys get key_doesnotexist
expect_exit 0 clean BATON_API_KEY="$workspace_key" "$bin" tiers list

# --- graceful stop ----------------------------------------------------------

step "SIGTERM: graceful stop"
kill -TERM "$server_pid"
rc=0
wait "$server_pid" || rc=$?
server_pid=""
[ "$rc" = 0 ] || fail "the server exited $rc after SIGTERM, want 0"
grep -q "baton server stopped" "$tmp/server.log" || fail "the server did not log a clean stop"

echo "install-test: PASS (archive $(basename "$archive"))"
