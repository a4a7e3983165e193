#!/usr/bin/env bash
# The benchmarks' external load generator: Debian's wrk (not Python threads on the server's cores).
exec "$(dirname "$0")/debian-package.sh" wrk wrk bench-tools
