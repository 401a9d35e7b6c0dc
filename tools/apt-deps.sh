#!/usr/bin/env bash
# Install the Debian packages the sandbox and tests need (real slapd, sshd, smbd, nslcd).
# Daemons are NOT started by the package scripts: a policy-rc.d refuses every service start during
# the install, so nothing listens on a non-loopback address and the host's services stay as they were.
set -euo pipefail
PKGS=(slapd ldap-utils samba smbclient nslcd libnss-ldapd openssh-server openssh-client util-linux procps iproute2 python3-venv openssl)
missing=()
for p in "${PKGS[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -eq 0 ]; then echo "apt-deps: all ${#PKGS[@]} packages present"; exit 0; fi
[ "$(id -u)" -eq 0 ] || { echo "apt-deps: need root to install: ${missing[*]}" >&2; exit 1; }
echo "apt-deps: installing ${missing[*]}" >&2
policy=/usr/sbin/policy-rc.d
had_policy=0; [ -e "$policy" ] && had_policy=1
if [ $had_policy -eq 0 ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod 0755 "$policy"; fi
cleanup() { if [ $had_policy -eq 0 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT
daemons='^(slapd|nslcd|smbd|nmbd|sshd)$'
before=" $(pgrep -d ' ' "$daemons" || true) "
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Package scripts may have started daemons anyway (no systemd here): stop only the ones that
# appeared during this install (by pid), never a sandbox's own daemons; the sandbox runs its own.
for pid in $(pgrep "$daemons" || true); do
  case "$before" in *" $pid "*) ;; *) kill "$pid" 2>/dev/null || true ;; esac
done
echo "apt-deps: done" >&2
