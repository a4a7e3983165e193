#!/usr/bin/env bash
# The benchmarks' external load generator: Debian's wrk (not Python threads on the server's cores).
set -euo pipefail
if command -v wrk >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "bench-tools: wrk is missing; install Debian's package: sudo apt-get install wrk" >&2
  exit 1
fi
echo "bench-tools: installing Debian's wrk"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq wrk >/dev/null
command -v wrk
