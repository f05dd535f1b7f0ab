#!/bin/sh
# Installs or upgrades skynode on a Debian / Raspberry Pi OS board, as root:
#   sudo sh deploy/install.sh skynode-linux-arm64
# - a `skynode` system user in the dialout and gpio groups;
# - the binary in /opt/skynode/releases/<version>-<commit>/, `current` pointing at it and `previous` at the release
#   it replaced (older ones are removed);
# - /etc/skynode/config.toml (written once, for the simulated telescope: edit it for the hardware), data in
#   /var/lib/skynode;
# - the systemd service (hardened), a health timer that restarts a wedged process, udev rules for the devices;
# - then it (re)starts the service and waits for /healthz: if the new release is not healthy, `current` goes back to
#   the previous release, which is restarted, and the script fails.
# SKYNODE_ROOT installs under another root (the tests' scratch root); SKYNODE_HEALTH_WAIT (s, default 60).
set -eu

ROOT="${SKYNODE_ROOT:-}"
WAIT="${SKYNODE_HEALTH_WAIT:-60}"
HERE="$(cd "$(dirname "$0")" && pwd)"
die() { echo "install.sh: $*" >&2; exit 2; }

[ "$(id -u)" = 0 ] || die "run it as root (sudo sh $0 BINARY)"
BIN="${1:-}"
[ -n "$BIN" ] || die "usage: sudo sh $0 skynode-linux-arm64 (the binary from bun run build)"
[ -f "$BIN" ] || die "no such file: $BIN"
for f in skynode.service skynode-health.service skynode-health.timer 60-skynode.rules; do
  [ -f "$HERE/$f" ] || die "$f is missing next to install.sh (copy the whole deploy/ directory)"
done
chmod 0755 "$BIN"
# "skynode 0.1.0 (0123456789ab, linux-arm64)": the release is named after version and commit.
LINE="$("$BIN" --version)" || die "$BIN does not run here (wrong architecture?)"
VERSION="$(echo "$LINE" | awk '{print $2}')"
COMMIT="$(echo "$LINE" | sed -n 's/.*(\([0-9a-f]*\).*/\1/p')"
[ -n "$VERSION" ] && [ -n "$COMMIT" ] || die "unexpected --version output: $LINE"
RELEASE="releases/$VERSION-$COMMIT"
OPT="$ROOT/opt/skynode"

# The service user and its device groups (gpio exists on Raspberry Pi OS; plain Debian needs it created).
prefix() { [ -n "$ROOT" ] && echo "--prefix $ROOT" || true; }
grep -q '^gpio:' "$ROOT/etc/group" || groupadd $(prefix) --system gpio
grep -q '^skynode:' "$ROOT/etc/passwd" ||
  useradd $(prefix) --system --user-group --home-dir /var/lib/skynode --no-create-home --shell /usr/sbin/nologin --groups dialout,gpio skynode
SKYNODE_UID="$(awk -F: '$1 == "skynode" { print $3 }' "$ROOT/etc/passwd")"
SKYNODE_GID="$(awk -F: '$1 == "skynode" { print $4 }' "$ROOT/etc/passwd")"

# Data and config.
install -d -m 0700 -o "$SKYNODE_UID" -g "$SKYNODE_GID" "$ROOT/var/lib/skynode"
install -d -m 0755 "$ROOT/etc/skynode"
if [ ! -f "$ROOT/etc/skynode/config.toml" ]; then
  cat > "$ROOT/etc/skynode/config.toml" <<'EOF'
# skynode configuration (check it with: skynode config check /etc/skynode/config.toml).
# With nothing else here the appliance runs the simulated telescope; see the README's "Configuration" and
# deploy/config.example.toml in the source tree for a real mount, focuser and limit switches.
[server]
port = 5001
EOF
  chmod 0640 "$ROOT/etc/skynode/config.toml"
  chgrp "$SKYNODE_GID" "$ROOT/etc/skynode/config.toml"
fi

# The release, switched to atomically (rename of a symlink).
PREVIOUS=""
[ -L "$OPT/current" ] && PREVIOUS="$(readlink "$OPT/current")"
install -d -m 0755 "$OPT/$RELEASE"
install -m 0755 "$BIN" "$OPT/$RELEASE/skynode.new" && mv -f "$OPT/$RELEASE/skynode.new" "$OPT/$RELEASE/skynode"
switch() { ln -sfn "$1" "$OPT/current.new" && mv -T "$OPT/current.new" "$OPT/current"; }
switch "$RELEASE"
[ -n "$PREVIOUS" ] && [ "$PREVIOUS" != "$RELEASE" ] && ln -sfn "$PREVIOUS" "$OPT/previous"
install -d -m 0755 "$ROOT/usr/local/bin"
ln -sfn /opt/skynode/current/skynode "$ROOT/usr/local/bin/skynode"

# Service, health timer, udev rules.
install -d -m 0755 "$ROOT/etc/systemd/system" "$ROOT/etc/udev/rules.d"
for f in skynode.service skynode-health.service skynode-health.timer; do install -m 0644 "$HERE/$f" "$ROOT/etc/systemd/system/$f"; done
install -m 0644 "$HERE/60-skynode.rules" "$ROOT/etc/udev/rules.d/60-skynode.rules"
if [ -z "$ROOT" ] && command -v udevadm > /dev/null; then udevadm control --reload && udevadm trigger --subsystem-match=tty --subsystem-match=gpio || true; fi
systemctl daemon-reload
systemctl enable skynode.service skynode-health.timer
systemctl restart skynode.service

healthy() { "$OPT/current/skynode" healthcheck --config "$ROOT/etc/skynode/config.toml" --wait "$WAIT"; }
if ! healthy; then
  if [ -n "$PREVIOUS" ] && [ "$PREVIOUS" != "$RELEASE" ]; then
    echo "install.sh: $RELEASE is not healthy: rolling back to $PREVIOUS" >&2
    switch "$PREVIOUS"
    systemctl restart skynode.service
    healthy || echo "install.sh: $PREVIOUS is not healthy either: see journalctl -u skynode" >&2
  else
    echo "install.sh: $RELEASE is not healthy: see journalctl -u skynode" >&2
  fi
  exit 1
fi
systemctl start skynode-health.timer

# Keep the current and the previous release only.
for dir in "$OPT"/releases/*; do
  rel="releases/$(basename "$dir")"
  [ "$rel" = "$RELEASE" ] || [ "$rel" = "$PREVIOUS" ] || rm -rf "$dir"
done
PORT="$(sed -n 's/^port *= *\([0-9]*\).*/\1/p' "$ROOT/etc/skynode/config.toml" | head -1)"
echo "skynode $VERSION ($COMMIT) is installed and running: open http://$(hostname):${PORT:-5001}/"
[ -f "$ROOT/var/lib/skynode/setup-code" ] && echo "first sign-in: create the admin with the setup code $(cat "$ROOT/var/lib/skynode/setup-code")"
exit 0
