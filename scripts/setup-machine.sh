#!/usr/bin/env bash
# Installs what ops's tests and lab need on a fresh Debian 12 machine (root), then npm deps.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(
  gnupg openssh-client            # secrets interop (GnuPG 2.2), ssh-keygen
  debootstrap systemd-container iproute2 nftables   # the lab: Debian hosts booted with systemd-nspawn
  libc-ares2 libbrotli1 libicu72 libnghttp2-14 libuv1   # Debian's own Node 18, for the master-runtime test
  tmux                            # drives interactive commands in tests
  zsh fish                        # the completion scripts, loaded into each shell (bash is there)
  python3-django                  # django-admin startproject: the stock project ops init starts from
  apt-utils dpkg-dev              # a local signed apt repository (apt-ftparchive) for the apt_repo tests
  postgresql                      # reset-local-db into this machine's PostgreSQL; pg_restore --list of kept dumps
  pebble                          # the ACME test CA (and its test DNS server) for the certificate tests
)
missing=()
for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "setup-machine: run as root to install: ${missing[*]}" >&2; exit 2; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q || true   # a third-party source being unreachable must not stop Debian's
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
npm ci --no-audit --no-fund
