#!/usr/bin/env bash
# The two commands of the README, on a fresh Debian 12 machine:
#   ./build.sh tour [tour options]   build nogil (release) and run `nogil tour`
#   ./build.sh test                  build and run every test: release, ThreadSanitizer, ASan+UBSan, clang-19
# Missing Debian packages are installed first (apt-get, as root or through sudo).
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(cmake ninja-build g++ pkg-config libgtest-dev libgmock-dev libbenchmark-dev libtbb-dev
          libcli11-dev libfmt-dev libcereal-dev liburing-dev python3 clang-19 libclang-rt-19-dev)

install_missing_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "== installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

jobs=$(nproc)

build() {  # build PRESET
  echo "== configure and build: $1"
  cmake --preset "$1" >/dev/null
  cmake --build --preset "$1" -j "$jobs"
}

run_tests() {  # run_tests PRESET
  echo "== tests: $1"
  ctest --preset "$1" -j "$jobs"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  tour)
    install_missing_packages
    build release
    if [ -x build/release/tools/nogil/nogil ]; then
      exec build/release/tools/nogil/nogil tour "$@"
    fi
    # Until the tour exists: run every example.
    for e in build/release/examples/example_*; do echo "== $e"; "$e"; done
    ;;
  test)
    install_missing_packages
    start=$SECONDS
    for preset in ${NOGIL_PRESETS:-release tsan asan clang}; do
      build "$preset"
      run_tests "$preset"
    done
    echo "== all test builds passed in $((SECONDS - start)) s"
    ;;
  *)
    echo "usage: $0 tour [options] | test" >&2
    exit 2
    ;;
esac
