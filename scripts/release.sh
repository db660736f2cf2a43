#!/usr/bin/env bash
# make release: static binaries for every supported platform, with SHA-256 checksums.
#
#   dist/upgradeplan_<version>_<os>_<arch>[.exe]   CGO_ENABLED=0, -trimpath, version stamped
#   dist/SHA256SUMS                                 `sha256sum -c SHA256SUMS` checks them
#
# VERSION and COMMIT come from the Makefile (git describe); PLATFORMS may narrow the list.
set -euo pipefail
cd "$(dirname "$0")/.."

version=${VERSION:?VERSION is set by the Makefile}
commit=${COMMIT:-unknown}
platforms=${PLATFORMS:-"linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64"}
dist=${DIST:-dist}

rm -rf "$dist"
mkdir -p "$dist"
for p in $platforms; do
  os=${p%/*} arch=${p#*/}
  ext=""
  [ "$os" = windows ] && ext=.exe
  out="$dist/upgradeplan_${version}_${os}_${arch}${ext}"
  echo "building $out"
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath \
    -ldflags "-s -w -X main.version=$version -X main.commit=$commit" \
    -o "$out" ./cmd/upgradeplan
done
(cd "$dist" && sha256sum upgradeplan_* >SHA256SUMS)
echo "wrote $dist/SHA256SUMS:"
cat "$dist/SHA256SUMS"
