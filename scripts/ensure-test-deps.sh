#!/bin/sh
# Installs the Debian packages the test suite needs (listed in test/system-packages.txt), when missing.
# As root it installs them with apt-get; otherwise it prints the install hint and fails.
set -eu
cd "$(dirname "$0")/.."
missing=""
for pkg in $(grep -v '^#' test/system-packages.txt | tr -s ' \n' ' '); do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing test packages:$missing"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
else
  echo "missing Debian packages for the tests:$missing" >&2
  echo "install them with: sudo apt-get install -y$missing" >&2
  exit 1
fi
