#!/usr/bin/env bash
# debian-package.sh COMMAND PACKAGE WHY: make sure COMMAND exists, installing Debian's PACKAGE with
# apt-get when it does not (as root; otherwise say what to install). The project installs what it
# needs itself: nothing downloaded outside the distribution's packages.
set -euo pipefail
command_name=$1 package=$2 why=$3
if command -v "$command_name" >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "$why: $command_name is missing; install Debian's package: sudo apt-get install $package" >&2
  exit 1
fi
echo "$why: installing Debian's $package"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "$package" >/dev/null
command -v "$command_name"
