#!/usr/bin/env bash
# Build mediasoup's worker binary from the C++ sources shipped in the npm
# package (<pkg>/worker), against Debian packages, without downloading
# anything but Debian packages / Debian source packages.
#
#   bash scripts/build-mediasoup-worker.sh <mediasoup-package-dir> <output-binary-path>
#   e.g. bash scripts/build-mediasoup-worker.sh node_modules/mediasoup \
#          ~/.cache/diemcau/mediasoup-worker-3.19.3/mediasoup-worker
#
# Recipe (scripts/mediasoup-worker/README.md), in short:
#   * OpenSSL is built from the pristine upstream tarball of Debian's source
#     package and linked statically (a worker linked to Debian's libssl3
#     crashes on the first DTLS handshake with Chromium).
#   * every subprojects/*.wrap is replaced by a shim subproject from
#     scripts/mediasoup-worker/subprojects that wraps the Debian library
#     (libuv, libsrtp2 + a libsrtp3 API compat header, usrsctp, abseil,
#     flatbuffers); catch2/liburing are not used.
#   * meson setup --buildtype=release -Db_ndebug=true
#     -Dms_disable_liburing=true --wrap-mode=nodownload; build fbs/FBS first,
#     then mediasoup-worker.
#
# Environment (all optional):
#   DIEMCAU_CACHE_DIR   cache root (default: ${XDG_CACHE_HOME:-~/.cache}/diemcau)
#   JOBS                parallel jobs (default: nproc)
#
# The machine's apt configuration is never modified: the OpenSSL source
# package is fetched through a private sources/lists folder in the cache.
# The script builds unconditionally; callers decide whether a cached binary
# is good enough. Works only on Linux/x86_64 Debian-like systems.

set -Eeuo pipefail

log() { printf '[worker] %s\n' "$*" >&2; }
die() { printf '[worker] ERROR: %s\n' "$*" >&2; exit 1; }

if [[ $# -ne 2 ]]; then
  echo "usage: $0 <mediasoup-package-dir> <output-binary-path>" >&2
  exit 2
fi

PKG_DIR=$(cd "$1" 2>/dev/null && pwd) || die "mediasoup package dir not found: $1"
OUT=$2
[[ $OUT == /* ]] || OUT="$PWD/$OUT"
[[ -f $PKG_DIR/worker/meson.build ]] ||
  die "$PKG_DIR/worker/meson.build not found (is '$1' the mediasoup npm package?)"

MS_VERSION=$(sed -n '0,/^[[:space:]]*"version":/s/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$PKG_DIR/package.json")
[[ -n $MS_VERSION ]] || die "cannot read the version from $PKG_DIR/package.json"

CACHE_ROOT=${DIEMCAU_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/diemcau}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
BUILD_ROOT="$CACHE_ROOT/build-tmp"
WORK="$BUILD_ROOT/mediasoup-worker-$MS_VERSION"
LOG="$WORK/build.log"
START_TS=$(date +%s)

mkdir -p "$BUILD_ROOT"

# One build at a time per cache (two setup runs would otherwise share dirs).
exec 9>"$BUILD_ROOT/.lock"
if ! flock -n 9; then
  log "another build is running in $BUILD_ROOT; waiting for it…"
  flock -w 3600 9 || die "timed out waiting for the build lock $BUILD_ROOT/.lock"
fi

rm -rf "$WORK"
mkdir -p "$WORK"
: >"$LOG"

on_error() {
  local rc=$? line=$1 cmd=$2
  trap - ERR
  [[ $cmd == *'"$@"'* && -n ${LAST_CMD:-} ]] && cmd=$LAST_CMD
  printf '[worker] ERROR: step failed (exit %s, line %s): %s\n' "$rc" "$line" "$cmd" >&2
  if [[ -s $LOG ]]; then
    printf '[worker] last lines of %s:\n' "$LOG" >&2
    tail -n 40 "$LOG" | sed 's/^/    /' >&2
  fi
  printf '[worker] build folder kept for inspection: %s\n' "$WORK" >&2
  exit "$rc"
}
trap 'on_error $LINENO "$BASH_COMMAND"' ERR

# Fail a logged step: message, the log's tail, where the build folder is.
fail() {
  trap - ERR
  printf '[worker] ERROR: %s\n' "$1" >&2
  if [[ -s $LOG ]]; then
    printf '[worker] last lines of %s:\n' "$LOG" >&2
    tail -n 40 "$LOG" | sed 's/^/    /' >&2
  fi
  printf '[worker] build folder kept for inspection: %s\n' "$WORK" >&2
  exit 1
}

# Run a command with its output going to the build log.
run() { LAST_CMD="$*"; "$@" >>"$LOG" 2>&1; }

log "mediasoup $MS_VERSION from $PKG_DIR → $OUT"

# ---------------------------------------------------------------------------
# 1. Debian build packages
# ---------------------------------------------------------------------------
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RECIPE="$HERE/mediasoup-worker"
mapfile -t DEB_PKGS < <(grep -Ev '^[[:space:]]*(#|$)' "$RECIPE/debian-packages.txt")

missing=()
for p in "${DEB_PKGS[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  if [[ $status != "install ok installed" ]]; then missing+=("$p"); fi
done

if ((${#missing[@]})); then
  # Installing needs root; without it, say exactly what to run, and stop.
  if [[ $(id -u) -ne 0 ]]; then
    die "missing Debian packages; run: sudo apt-get install -y --no-install-recommends ${missing[*]}"
  fi
  log "installing Debian packages: ${missing[*]}"
  APT_LOCK_OPTS=(-o DPkg::Lock::Timeout=600)
  export DEBIAN_FRONTEND=noninteractive
  if ! run apt-get "${APT_LOCK_OPTS[@]}" install -y --no-install-recommends "${missing[@]}"; then
    log "apt-get update (a package is unknown to apt)"
    run apt-get "${APT_LOCK_OPTS[@]}" update || fail "apt-get update failed"
    run apt-get "${APT_LOCK_OPTS[@]}" install -y --no-install-recommends "${missing[@]}" || fail "apt-get install ${missing[*]} failed"
  fi
fi

for tool in meson ninja pkg-config flatc g++ cc make perl; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found after installing packages"
done

# ---------------------------------------------------------------------------
# 2. OpenSSL: upstream tarball from Debian's source package, static libs
# ---------------------------------------------------------------------------
OSSL_SRC_CACHE="$CACHE_ROOT/openssl-src"
mkdir -p "$OSSL_SRC_CACHE"

# The newest cached tarball, or nothing. Written so that "none cached" (the
# cold path of every new server) is not a failure under set -e/pipefail.
find_orig() {
  local f found=()
  for f in "$OSSL_SRC_CACHE"/openssl_*.orig.tar.gz; do
    if [[ -f $f ]]; then found+=("$f"); fi
  done
  if ((${#found[@]})); then printf '%s\n' "${found[@]}" | sort -V | tail -n1; fi
  return 0
}

ORIG=$(find_orig)
if [[ -z $ORIG ]]; then
  log "fetching Debian's openssl source package (private apt lists, system config untouched)…"
  APTDIR="$WORK/apt"
  mkdir -p "$APTDIR/sources.list.d" "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial"

  # Same URIs and Signed-By as the machine's main Debian source.
  uris="" signed_by=""
  if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
    read -r uris signed_by < <(awk '
      BEGIN { RS = ""; FS = "\n" }
      {
        u = ""; s = ""; suites = ""; types = ""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/)      { u = $i; sub(/^URIs:[ \t]*/, "", u) }
          if ($i ~ /^Signed-By:/) { s = $i; sub(/^Signed-By:[ \t]*/, "", s) }
          if ($i ~ /^Suites:/)    { suites = " " $i " " }
          if ($i ~ /^Types:/)     { types = $i }
        }
        if (types ~ /deb/ && u !~ /security/ && u != "") { print u, s; exit }
      }' /etc/apt/sources.list.d/debian.sources) || true
  fi
  uris=${uris:-http://deb.debian.org/debian}
  signed_by=${signed_by:-/usr/share/keyrings/debian-archive-keyring.gpg}
  suite=bookworm
  if [[ -r /etc/os-release ]]; then
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    if [[ -n $codename ]]; then suite=$codename; fi
  fi
  cat >"$APTDIR/sources.list.d/debian-src.sources" <<EOF
Types: deb-src
URIs: $uris
Suites: $suite
Components: main
Signed-By: $signed_by
EOF
  APT_PRIV=(-o Dir::Etc::sourcelist=/dev/null
    -o Dir::Etc::sourceparts="$APTDIR/sources.list.d"
    -o Dir::State::Lists="$APTDIR/lists"
    -o Dir::Cache="$APTDIR/cache"
    -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
    -o APT::Sandbox::User=root
    -o Acquire::Languages=none)
  run apt-get "${APT_PRIV[@]}" update || fail "apt-get update with the private deb-src list failed"
  mkdir -p "$WORK/openssl-dl"
  (cd "$WORK/openssl-dl" && run apt-get "${APT_PRIV[@]}" source --download-only openssl) || fail "apt-get source --download-only openssl failed"
  compgen -G "$WORK/openssl-dl/openssl_*.orig.tar.gz" >/dev/null ||
    die "no openssl_*.orig.tar.gz in the downloaded source package"
  cp -f "$WORK"/openssl-dl/openssl_* "$OSSL_SRC_CACHE"/
  ORIG=$(find_orig)
  [[ -n $ORIG ]] || die "could not store the OpenSSL tarball in $OSSL_SRC_CACHE"
fi

OSSL_VERSION=$(basename "$ORIG" | sed 's/^openssl_\(.*\)\.orig\.tar\.gz$/\1/')
OSSL_PREFIX="$CACHE_ROOT/openssl-$OSSL_VERSION-static"

if [[ -f $OSSL_PREFIX/.complete && -f $OSSL_PREFIX/lib/libssl.a && -f $OSSL_PREFIX/lib/libcrypto.a ]]; then
  log "using cached OpenSSL $OSSL_VERSION ($OSSL_PREFIX)"
else
  log "building OpenSSL $OSSL_VERSION (static, from $(basename "$ORIG"))…"
  rm -rf "$WORK/openssl" "$OSSL_PREFIX"
  mkdir -p "$WORK/openssl"
  run tar -xzf "$ORIG" -C "$WORK/openssl" --strip-components=1
  (cd "$WORK/openssl" && run ./Configure linux-x86_64 no-shared no-tests -O2 &&
    run make -j"$JOBS" build_libs) || fail "OpenSSL build failed"
  mkdir -p "$OSSL_PREFIX.tmp/lib"
  cp -a "$WORK/openssl/include" "$OSSL_PREFIX.tmp/"
  find "$OSSL_PREFIX.tmp/include" -type f ! -name '*.h' -delete
  cp "$WORK/openssl/libssl.a" "$WORK/openssl/libcrypto.a" "$OSSL_PREFIX.tmp/lib/"
  touch "$OSSL_PREFIX.tmp/.complete"
  mv "$OSSL_PREFIX.tmp" "$OSSL_PREFIX"
  rm -rf "$WORK/openssl"
fi

# ---------------------------------------------------------------------------
# 3. Worker sources + subproject shims
# ---------------------------------------------------------------------------
log "copying worker sources…"
SRC="$WORK/worker"
mkdir -p "$SRC"
tar -C "$PKG_DIR/worker" --exclude=./out --exclude=./subprojects -cf - . | tar -C "$SRC" -xf -
mkdir -p "$SRC/subprojects"

# Meson >= 1.1 is declared; Debian bookworm ships 1.0.1, which configures
# this project fine. Relax the line only when the installed meson is older.
MESON_VERSION=$(meson --version)
REQ=$(sed -n "0,/meson_version/s/.*meson_version[[:space:]]*:[[:space:]]*'>=[[:space:]]*\([0-9.]*\)'.*/\1/p" "$SRC/meson.build")
if [[ -n $REQ ]] && [[ $(printf '%s\n%s\n' "$REQ" "$MESON_VERSION" | sort -V | head -n1) != "$REQ" ]]; then
  log "meson $MESON_VERSION < required $REQ: relaxing meson_version to >= 1.0.0"
  sed -i "s/meson_version[[:space:]]*:[[:space:]]*'>=[[:space:]]*$REQ'/meson_version: '>= 1.0.0'/" "$SRC/meson.build"
fi

log "subproject shims from $RECIPE/subprojects…"
# Every wrap the worker declares is replaced by a shim over Debian's library.
cp -a "$RECIPE/subprojects/." "$SRC/subprojects/"

# ---------------------------------------------------------------------------
# 4. Configure and build
# ---------------------------------------------------------------------------
BLD="$WORK/build"
log "configuring (meson $MESON_VERSION)…"
run meson setup --buildtype=release -Db_ndebug=true -Dms_disable_liburing=true \
  -Dopenssl:prefix_dir="$OSSL_PREFIX" --wrap-mode=nodownload "$BLD" "$SRC" || fail "meson setup failed"

log "generating flatbuffers headers…"
run ninja -C "$BLD" -j "$JOBS" fbs/FBS || fail "flatbuffers generation failed"

log "building mediasoup-worker with $JOBS jobs (several minutes)…"
run ninja -C "$BLD" -j "$JOBS" mediasoup-worker || fail "worker build failed"

BIN="$BLD/mediasoup-worker"
[[ -x $BIN ]] || die "build finished but $BIN is missing"

# ---------------------------------------------------------------------------
# 5. Verify, install atomically, verify again
# ---------------------------------------------------------------------------
verify() {
  local bin=$1 rc=0 missing_libs
  missing_libs=$(ldd "$bin" 2>&1 | grep -E 'not found|not a dynamic' || true)
  [[ -z $missing_libs ]] || die "ldd $bin reports: $missing_libs"
  # Started on its own (no MEDIASOUP_VERSION / channel) the worker exits 41.
  env -u MEDIASOUP_VERSION timeout 20 "$bin" </dev/null >/dev/null 2>&1 || rc=$?
  [[ $rc -eq 41 ]] || die "$bin exited with $rc when run alone (expected 41)"
}

log "verifying the binary…"
verify "$BIN"

mkdir -p "$(dirname "$OUT")"
TMP_OUT="$OUT.tmp.$$"
cp "$BIN" "$TMP_OUT"
chmod 755 "$TMP_OUT"
mv -f "$TMP_OUT" "$OUT"
verify "$OUT"

{
  echo "mediasoup=$MS_VERSION"
  echo "openssl=$OSSL_VERSION (static, upstream tarball from Debian source package)"
  for p in libuv1-dev libabsl-dev libusrsctp-dev libsrtp2-dev libflatbuffers-dev meson g++; do
    echo "$p=$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || echo '?')"
  done
  echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$OUT.buildinfo.tmp.$$"
mv -f "$OUT.buildinfo.tmp.$$" "$OUT.buildinfo"

trap - ERR
rm -rf "$WORK"
log "done in $(($(date +%s) - START_TS))s: $OUT ($(du -h "$OUT" | cut -f1))"
