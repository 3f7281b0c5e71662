#!/usr/bin/env bash
# Build mediasoup's worker binary from the C++ sources shipped in the npm
# package (<pkg>/worker), against Debian packages, without downloading
# anything but Debian packages / Debian source packages.
#
#   bash scripts/build-mediasoup-worker.sh <mediasoup-package-dir> <output-binary-path>
#   e.g. bash scripts/build-mediasoup-worker.sh node_modules/mediasoup \
#          ~/.cache/diemcau/mediasoup-worker-3.19.3/mediasoup-worker
#
# Recipe: docs/offline-setup.md (shared) — in short:
#   * OpenSSL is built from the pristine upstream tarball of Debian's source
#     package and linked statically (a worker linked to Debian's libssl3
#     crashes on the first DTLS handshake with Chromium).
#   * every subprojects/*.wrap is replaced by a local shim subproject that
#     wraps the Debian library (libuv, libsrtp2 + a libsrtp3 API compat
#     header, usrsctp, abseil, flatbuffers); catch2/liburing are not used.
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
DEB_PKGS=(meson ninja-build pkg-config libuv1-dev libabsl-dev libusrsctp-dev
  libsrtp2-dev flatbuffers-compiler libflatbuffers-dev g++ dpkg-dev
  make perl python3)

missing=()
for p in "${DEB_PKGS[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$p")
done

APT_LOCK_OPTS=(-o DPkg::Lock::Timeout=600)

apt_as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    DEBIAN_FRONTEND=noninteractive "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo DEBIAN_FRONTEND=noninteractive "$@"
  else
    die "missing Debian packages (${missing[*]}) and not root: install them first"
  fi
}

if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  need_update=0
  for p in "${missing[@]}"; do
    apt-cache show "$p" >/dev/null 2>&1 || need_update=1
  done
  if ((need_update)); then
    log "apt-get update (a package is unknown to apt)"
    # The lists lock is not covered by DPkg::Lock::Timeout on every apt
    # version: retry while another apt run holds it.
    for i in $(seq 1 60); do
      if apt_as_root apt-get "${APT_LOCK_OPTS[@]}" update >>"$LOG" 2>&1; then break; fi
      ((i < 60)) || fail "apt-get update failed"
      sleep 10
    done
  fi
  run apt_as_root apt-get "${APT_LOCK_OPTS[@]}" install -y --no-install-recommends "${missing[@]}" || fail "apt-get install ${missing[*]} failed"
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

log "writing subproject shims…"
SP="$SRC/subprojects"

# --- openssl (static, built above) ---
mkdir -p "$SP/openssl"
echo 'static int openssl_shim_dummy;' >"$SP/openssl/dummy.c"
cat >"$SP/openssl/meson.build" <<EOF
project('openssl', 'c')
# Shim: OpenSSL $OSSL_VERSION built from the upstream tarball, linked statically.
_prefix = '$OSSL_PREFIX'
openssl_dep = declare_dependency(
  compile_args: ['-isystem', _prefix / 'include'],
  link_args: [_prefix / 'lib' / 'libssl.a', _prefix / 'lib' / 'libcrypto.a', '-ldl', '-pthread'],
)
libcrypto_lib = static_library('crypto_shim', 'dummy.c')
libssl_lib = static_library('ssl_shim', 'dummy.c')
EOF

# --- libuv ---
mkdir -p "$SP/libuv"
echo 'static int libuv_shim_dummy;' >"$SP/libuv/dummy.c"
cat >"$SP/libuv/meson.build" <<'EOF'
project('libuv', 'c')
libuv_dep = dependency('libuv')
libuv = static_library('uv_shim', 'dummy.c')
EOF
cat >"$SP/libuv/meson_options.txt" <<'EOF'
option('build_tests', type : 'boolean', value : false)
option('build_benchmarks', type : 'boolean', value : false)
EOF

# --- libsrtp3 → Debian libsrtp2 + API compat header ---
mkdir -p "$SP/libsrtp3/compat"
echo 'static int srtp_shim_dummy;' >"$SP/libsrtp3/dummy.c"
cat >"$SP/libsrtp3/meson.build" <<'EOF'
project('libsrtp3', 'c')
libsrtp3_dep = declare_dependency(
  dependencies: dependency('libsrtp2'),
  include_directories: include_directories('compat'),
)
libsrtp3 = static_library('srtp_shim', 'dummy.c')
EOF
cat >"$SP/libsrtp3/meson_options.txt" <<'EOF'
option('crypto-library', type : 'string', value : 'none')
option('crypto-library-kdf', type : 'feature', value : 'auto')
option('tests', type : 'feature', value : 'auto')
EOF
cat >"$SP/libsrtp3/compat/srtp.h" <<'EOF'
// libsrtp 3 API (as used by mediasoup's worker) on top of libsrtp 2.
#ifndef DIEMCAU_SRTP3_COMPAT_H
#define DIEMCAU_SRTP3_COMPAT_H

#include <srtp2/srtp.h>

#ifdef __cplusplus
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <climits>

// Error codes that only exist in libsrtp 3 (distinct from every v2 value).
inline constexpr srtp_err_status_t srtp_err_status_buffer_small = static_cast<srtp_err_status_t>(28);
inline constexpr srtp_err_status_t srtp_err_status_cryptex_err  = static_cast<srtp_err_status_t>(29);

inline srtp_err_status_t srtp_stream_remove(srtp_t session, uint32_t ssrc)
{
  return srtp_remove_stream(session, ssrc);
}

namespace diemcau_srtp_compat
{
  template<typename F>
  inline srtp_err_status_t Protect(
    F fn, srtp_t ctx, const uint8_t* in, size_t inLen, uint8_t* out, size_t* outLen, size_t trailer)
  {
    if (inLen > static_cast<size_t>(INT_MAX) - trailer || *outLen < inLen + trailer)
      return srtp_err_status_buffer_small;
    if (out != in)
      std::memmove(out, in, inLen);
    int len = static_cast<int>(inLen);
    const srtp_err_status_t err = fn(ctx, out, &len);
    if (err == srtp_err_status_ok)
      *outLen = static_cast<size_t>(len);
    return err;
  }

  template<typename F>
  inline srtp_err_status_t Unprotect(
    F fn, srtp_t ctx, const uint8_t* in, size_t inLen, uint8_t* out, size_t* outLen)
  {
    if (inLen > static_cast<size_t>(INT_MAX) || *outLen < inLen)
      return srtp_err_status_buffer_small;
    if (out != in)
      std::memmove(out, in, inLen);
    int len = static_cast<int>(inLen);
    const srtp_err_status_t err = fn(ctx, out, &len);
    if (err == srtp_err_status_ok)
      *outLen = static_cast<size_t>(len);
    return err;
  }
} // namespace diemcau_srtp_compat

inline srtp_err_status_t srtp_protect(
  srtp_t ctx, const uint8_t* rtp, size_t rtpLen, uint8_t* srtp, size_t* srtpLen, size_t /*mkiIndex*/)
{
  return diemcau_srtp_compat::Protect(
    static_cast<srtp_err_status_t (*)(srtp_t, void*, int*)>(srtp_protect),
    ctx, rtp, rtpLen, srtp, srtpLen, SRTP_MAX_TRAILER_LEN);
}

inline srtp_err_status_t srtp_protect_rtcp(
  srtp_t ctx, const uint8_t* rtcp, size_t rtcpLen, uint8_t* srtcp, size_t* srtcpLen, size_t /*mkiIndex*/)
{
  return diemcau_srtp_compat::Protect(
    static_cast<srtp_err_status_t (*)(srtp_t, void*, int*)>(srtp_protect_rtcp),
    ctx, rtcp, rtcpLen, srtcp, srtcpLen, SRTP_MAX_TRAILER_LEN + 4 /* SRTCP index */);
}

inline srtp_err_status_t srtp_unprotect(
  srtp_t ctx, const uint8_t* srtp, size_t srtpLen, uint8_t* rtp, size_t* rtpLen)
{
  return diemcau_srtp_compat::Unprotect(
    static_cast<srtp_err_status_t (*)(srtp_t, void*, int*)>(srtp_unprotect),
    ctx, srtp, srtpLen, rtp, rtpLen);
}

inline srtp_err_status_t srtp_unprotect_rtcp(
  srtp_t ctx, const uint8_t* srtcp, size_t srtcpLen, uint8_t* rtcp, size_t* rtcpLen)
{
  return diemcau_srtp_compat::Unprotect(
    static_cast<srtp_err_status_t (*)(srtp_t, void*, int*)>(srtp_unprotect_rtcp),
    ctx, srtcp, srtcpLen, rtcp, rtcpLen);
}
#endif // __cplusplus

#endif // DIEMCAU_SRTP3_COMPAT_H
EOF

# --- usrsctp ---
mkdir -p "$SP/usrsctp"
echo 'static int usrsctp_shim_dummy;' >"$SP/usrsctp/dummy.c"
cat >"$SP/usrsctp/meson.build" <<'EOF'
project('usrsctp', 'c')
usrsctp_dep = dependency('usrsctp')
usrsctp = static_library('usrsctp_shim', 'dummy.c')
EOF
cat >"$SP/usrsctp/meson_options.txt" <<'EOF'
option('sctp_build_programs', type : 'boolean', value : false)
EOF

# --- abseil-cpp ---
mkdir -p "$SP/abseil-cpp"
echo 'static int absl_shim_dummy;' >"$SP/abseil-cpp/dummy.c"
cat >"$SP/abseil-cpp/meson.build" <<'EOF'
project('abseil-cpp', 'c')
absl_container_dep = declare_dependency(dependencies: [
  dependency('absl_flat_hash_map'),
  dependency('absl_flat_hash_set'),
  dependency('absl_btree'),
  dependency('absl_inlined_vector'),
])
absl_strings_dep = declare_dependency(dependencies: [
  dependency('absl_strings'),
  dependency('absl_str_format'),
])
absl_types_dep = declare_dependency(dependencies: [
  dependency('absl_optional'),
  dependency('absl_variant'),
  dependency('absl_span'),
])
absl_container_lib = static_library('absl_container_shim', 'dummy.c')
EOF

# --- flatbuffers ---
mkdir -p "$SP/flatbuffers"
echo 'static int flatbuffers_shim_dummy;' >"$SP/flatbuffers/dummy.c"
cat >"$SP/flatbuffers/meson.build" <<'EOF'
project('flatbuffers', 'c')
flatbuffers_dep = dependency('flatbuffers')
flatbuffers_lib = static_library('flatbuffers_shim', 'dummy.c')
EOF

# --- catch2 (tests are not built) ---
mkdir -p "$SP/catch2"
cat >"$SP/catch2/meson.build" <<'EOF'
project('catch2', 'cpp')
catch2_dep = declare_dependency()
EOF

# ---------------------------------------------------------------------------
# 4. Configure and build
# ---------------------------------------------------------------------------
BLD="$WORK/build"
log "configuring (meson $MESON_VERSION)…"
run meson setup --buildtype=release -Db_ndebug=true -Dms_disable_liburing=true \
  --wrap-mode=nodownload "$BLD" "$SRC" || fail "meson setup failed"

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
