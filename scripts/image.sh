#!/usr/bin/env bash
# make image: build the OCI image from Containerfile with podman or buildah, offline.
#
# The static linux binary for the host's architecture (or GOARCH) is built first, then
# staged in build/image/ with the host's CA bundle; the Containerfile starts FROM scratch, so
# no base image is pulled. IMAGE names the result (default upgradeplan:VERSION).
set -euo pipefail
cd "$(dirname "$0")/.."

version=${VERSION:?VERSION is set by the Makefile}
commit=${COMMIT:-unknown}
image=${IMAGE:-upgradeplan:$version}
arch=${GOARCH:-$(go env GOARCH)}
ca=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

if command -v podman >/dev/null 2>&1; then
  builder=(podman build)
elif command -v buildah >/dev/null 2>&1; then
  builder=(buildah bud)
else
  echo "make image: neither podman nor buildah is installed (apt-get install -y podman)" >&2
  exit 1
fi
[ -r "$ca" ] || { echo "make image: no CA bundle at $ca (apt-get install -y ca-certificates, or set CA_BUNDLE)" >&2; exit 1; }

stage=build/image
rm -rf "$stage"
mkdir -p "$stage/etc" "$stage/home"
CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath \
  -ldflags "-s -w -X main.version=$version -X main.commit=$commit" \
  -o "$stage/upgradeplan" ./cmd/upgradeplan
cp "$ca" "$stage/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$stage/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$stage/etc/group"

# Rootless or inside a container, the default overlay storage may be unavailable: vfs and
# chroot isolation always work, and a FROM scratch build runs no command anyway.
"${builder[@]}" ${BUILD_FLAGS:-} --build-arg "VERSION=$version" --platform "linux/$arch" \
  -f Containerfile -t "$image" .
echo "built $image"
