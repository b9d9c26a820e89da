#!/usr/bin/env bash
# Builds qun's release archives: one static binary per target (qun is pure
# Go, so one `go build` per target, no C toolchain), packed with the
# LICENSE, README and CHANGELOG.
#
#   scripts/release.sh [VERSION] [OUTDIR]
#
# VERSION defaults to `git describe` (or v0.0.0-dev), OUTDIR to dist/.
# TARGETS="linux/amd64 darwin/arm64" narrows the targets. The archives are
# qun_VERSION_OS_ARCH.tar.gz (.zip for Windows), with SHA256SUMS beside
# them. CI runs this script, so every target keeps building.
set -euo pipefail
cd "$(dirname "$0")/.."

version="${1:-$(git describe --tags --always --dirty 2>/dev/null || echo v0.0.0-dev)}"
out="${2:-dist}"
targets="${TARGETS:-linux/amd64 linux/arm64 darwin/arm64 windows/amd64}"
commit="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
date="$(git log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)"
pkg=github.com/qunhq/qun/internal/version
ldflags="-s -w -X $pkg.version=$version -X $pkg.commit=$commit -X $pkg.date=$date"

mkdir -p "$out" && rm -f "$out"/qun_*.tar.gz "$out"/qun_*.zip "$out/SHA256SUMS"
for target in $targets; do
  os="${target%/*}" arch="${target#*/}"
  name="qun_${version}_${os}_${arch}"
  dir="$out/$name"
  mkdir -p "$dir"
  exe=qun; [ "$os" = windows ] && exe=qun.exe
  echo "build $target"
  CGO_ENABLED=0 GOOS="$os" GOARCH="$arch" go build -trimpath -ldflags "$ldflags" -o "$dir/$exe" ./cmd/qun
  cp LICENSE README.md CHANGELOG.md "$dir/"
  if [ "$os" = windows ]; then
    (cd "$out" && zip -qr "$name.zip" "$name")
  else
    tar -C "$out" -czf "$out/$name.tar.gz" "$name"
  fi
  rm -rf "$dir"
done
(cd "$out" && sha256sum qun_* > SHA256SUMS)

# The archive for this machine must run and say which build it is.
host="$(go env GOOS)/$(go env GOARCH)"
if [[ " $targets " == *" $host "* ]] && [ "$(go env GOOS)" != windows ]; then
  name="qun_${version}_$(go env GOOS)_$(go env GOARCH)"
  tmp="$(mktemp -d)"
  tar -C "$tmp" -xzf "$out/$name.tar.gz"
  got="$("$tmp/$name/qun" version)"
  rm -rf "$tmp"
  case "$got" in
    "qun $version (commit ${commit:0:12}"*) echo "$got" ;;
    *) echo "release: the $host binary says \"$got\", want version $version, commit ${commit:0:12}" >&2; exit 1 ;;
  esac
fi
ls -l "$out"
