#!/usr/bin/env bash
# Debian's Chromium for the browser tests (Playwright drives it; no browser download).
exec "$(dirname "$0")/debian-package.sh" chromium chromium browser-up
