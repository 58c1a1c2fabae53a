#!/usr/bin/env bash
# The two commands of the README, on a fresh Debian 12 machine:
#   ./build.sh tour [tour options]   build nogil (release) and run `nogil tour`
#   ./build.sh test                  build and run every test: release, ThreadSanitizer, ASan+UBSan, clang-19
# Missing Debian packages are installed first (apt-get, as root or through sudo).
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(cmake ninja-build g++ pkg-config libgtest-dev libgmock-dev libbenchmark-dev libtbb-dev
          libcli11-dev libfmt-dev libcereal-dev liburing-dev python3 clang-19 libclang-rt-19-dev
          socat netcat-openbsd curl wrk python3-uvloop gdb libopenmpi-dev openmpi-bin python3-mpi4py
          libssl-dev openssl libboost1.81-dev strace)

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

passed=0
failed=0
failed_names=""
flaky_names=""
run_tests() {  # run_tests PRESET: runs the preset's tests, adds its counts to the totals
  echo "== tests: $1"
  local log rc=0
  log=$(mktemp)
  # A test that fails is run once more (--repeat until-pass:2) so that one flaky test does not
  # hide the whole run's result; every test that failed once is named at the end as FLAKY (a
  # flaky test is a bug: find its cause).
  ctest --preset "$1" -j "$jobs" --repeat until-pass:2 2>&1 | tee "$log" || rc=1
  local line total bad
  line=$(grep -E "tests passed, [0-9]+ tests? failed out of [0-9]+" "$log" | tail -n 1)
  # The names of failed tests, repeated at the very end (CI shows the tail of the log).
  local names
  names=$(sed -n '/The following tests FAILED:/,$p' "$log" | grep -E '^[[:space:]]+[0-9]+ - ' || true)
  [ -n "$names" ] && failed_names+="  $1:"$'\n'"$names"$'\n'
  local once
  once=$(grep -E 'Test +#[0-9]+: .*\*\*\*(Failed|Timeout|Exception)' "$log" | sed -E 's/.*Test +#[0-9]+: ([^ ]+) .*/\1/' | sort -u || true)
  [ -n "$once" ] && flaky_names+="  $1: "$(echo $once)$'\n'
  rm -f "$log"
  if [ -z "$line" ]; then
    echo "== $1: ctest printed no summary" >&2
    failed=$((failed + 1))
    return 1
  fi
  bad=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
  total=$(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$line")
  passed=$((passed + total - bad))
  failed=$((failed + bad))
  return $rc
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
    status=0
    times=""
    for preset in ${NOGIL_PRESETS:-release tsan asan clang}; do
      t0=$SECONDS
      build "$preset"
      t1=$SECONDS
      run_tests "$preset" || status=1
      times+="  $preset: build $((t1 - t0)) s, tests $((SECONDS - t1)) s"$'\n'
    done
    printf '%s' "$times"
    [ -n "$flaky_names" ] && printf '== FLAKY: these tests failed at least once (run again: see above):\n%s' "$flaky_names"
    [ -n "$failed_names" ] && printf '== failed tests:\n%s' "$failed_names"
    echo "== test builds: ${NOGIL_PRESETS:-release tsan asan clang}, $((SECONDS - start)) s"
    echo "$passed passed, $failed failed"
    exit $status
    ;;
  *)
    echo "usage: $0 tour [options] | test" >&2
    exit 2
    ;;
esac
