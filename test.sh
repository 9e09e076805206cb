#!/usr/bin/env bash
# Runs every test project of RaySharp and ends with the line "N passed, M failed".
# Usage: ./test.sh            (from the repository root; needs the .NET 10 SDK, and installs redis-server, chromium,
#                              chromium-driver and, as root, nftables if missing)
set -uo pipefail
cd "$(dirname "$0")"

# Installs Debian packages the tests need: $1 says which tests, the rest are the packages.
apt_install() {
  local why=$1; shift
  echo "installing $* (apt-get) for $why"
  export DEBIAN_FRONTEND=noninteractive
  # Without a package list apt-get install finds nothing: update once and try again.
  apt-get install -y -qq "$@" >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "$@" >/dev/null 2>&1; } \
    || echo "could not install $*: $why will fail (apt-get install -y $*)"
}

# The GCS's Redis storage tests start their own redis-server (on a free loopback port).
command -v redis-server >/dev/null 2>&1 || apt_install "the Redis tests" redis-server
# The multi-host test drops packets between its network-namespace hosts with nft (as root; skipped where not permitted).
command -v nft >/dev/null 2>&1 || [ "$(id -u)" -ne 0 ] || apt_install "the multi-host test" nftables
# The dashboard's browser test drives Debian's Chromium headless through its chromedriver.
{ command -v chromium && command -v chromedriver; } >/dev/null 2>&1 || apt_install "the dashboard's browser test" chromium chromium-driver

log=$(mktemp)
trap 'rm -f "$log"' EXIT

dotnet build RaySharp.sln -c Release -nologo -v quiet 2>&1 | tee -a "$log"
build=${PIPESTATUS[0]}
if [ "$build" -ne 0 ]; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

# Test projects run one after another: runtime tests start processes and measure resources.
dotnet test RaySharp.sln -c Release --no-build -nologo -m:1 2>&1 | tee -a "$log"
status=${PIPESTATUS[0]}

passed=$(grep -Eo 'Passed: +[0-9]+' "$log" | grep -Eo '[0-9]+' | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo 'Failed: +[0-9]+' "$log" | grep -Eo '[0-9]+' | awk '{s+=$1} END {print s+0}')
passed=${passed:-0}
failed=${failed:-0}
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  echo "dotnet test exited with $status without reporting a failed test (a test host crashed?)"
  failed=1
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
