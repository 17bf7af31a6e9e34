#!/usr/bin/env bash
# Build every release archive and package locally, as a release would,
# without Docker and without publishing anything:
#
#   scripts/release-snapshot.sh            # check the config, then build into dist/
#   scripts/release-snapshot.sh --check    # only `goreleaser check`
#
# goreleaser runs from the Go module proxy at a pinned version (the first
# run compiles it: a few minutes). Results: dist/*.tar.gz, dist/*.zip,
# dist/*.deb, dist/*.rpm and dist/checksums.txt. Exits non-zero on any failure.
set -euo pipefail

GORELEASER_VERSION=${GORELEASER_VERSION:-v2.15.1}
cd "$(dirname "$0")/.."

goreleaser() {
	go run "github.com/goreleaser/goreleaser/v2@${GORELEASER_VERSION}" "$@"
}

check_only=0
case "${1:-}" in
"") ;;
--check) check_only=1 ;;
-h | --help)
	sed -n '2,10p' "$0"
	exit 0
	;;
*)
	echo "usage: $0 [--check]" >&2
	exit 2
	;;
esac

echo "==> goreleaser ${GORELEASER_VERSION} check"
goreleaser check --config goreleaser.yaml

if [ "$check_only" = 1 ]; then
	exit 0
fi

echo "==> goreleaser release --snapshot --clean --skip=docker,publish"
goreleaser release --config goreleaser.yaml --snapshot --clean --skip=docker,publish

# Every platform has its archive, and the packages and checksums exist.
missing=0
for target in linux_amd64 linux_arm64 darwin_amd64 darwin_arm64; do
	if ! compgen -G "dist/baton_*_${target}.tar.gz" >/dev/null; then
		echo "missing archive for ${target}" >&2
		missing=1
	fi
done
for target in windows_amd64 windows_arm64; do
	if ! compgen -G "dist/baton_*_${target}.zip" >/dev/null; then
		echo "missing archive for ${target}" >&2
		missing=1
	fi
done
for pattern in 'dist/*.deb' 'dist/*.rpm' 'dist/checksums.txt'; do
	if ! compgen -G "$pattern" >/dev/null; then
		echo "missing ${pattern}" >&2
		missing=1
	fi
done
if [ "$missing" != 0 ]; then
	exit 1
fi
(cd dist && sha256sum --check --quiet checksums.txt)
count=$(find dist -maxdepth 1 -type f \( -name '*.tar.gz' -o -name '*.zip' -o -name '*.deb' -o -name '*.rpm' \) | wc -l)
echo "==> done: ${count} archives and packages in dist/"
