#!/usr/bin/env bash
# Sets up everything fleetdeploy's demo and tests need on a fresh Debian machine:
# system packages (Docker engine, debootstrap, wrk, ssh client), a running dockerd,
# and the project's virtualenv in .venv. Safe to run again: each step skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(docker.io debootstrap wrk openssh-client make rsync docker-registry)

missing_apt_packages() {
  local pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || echo "$pkg"
  done
}

install_system_packages() {
  local missing
  missing=$(missing_apt_packages)
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "fleetdeploy: missing system packages: $missing" >&2
    echo "  install them with: sudo apt-get install -y $missing" >&2
    exit 1
  fi
  echo "==> installing system packages: $missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
  # fleetdeploy runs docker-registry itself, on loopback, per apply (docs/image.md "Transfer"); the
  # package's own service would listen on every address at :5000. Only when this script installed it.
  if [[ " $missing " == *" docker-registry "* ]] && [ -d /run/systemd/system ]; then
    systemctl disable --now docker-registry >/dev/null 2>&1 || true
  fi
}

ensure_dockerd() {
  if docker info >/dev/null 2>&1; then return 0; fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "fleetdeploy: the Docker engine is not running; start it with: sudo systemctl start docker" >&2
    exit 1
  fi
  echo "==> starting dockerd in the background (log: /var/log/dockerd.log)"
  # No systemd on this kind of machine: run the daemon detached from our session.
  setsid nohup dockerd >/var/log/dockerd.log 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  echo "fleetdeploy: dockerd did not start; see /var/log/dockerd.log" >&2
  exit 1
}

ensure_venv() {
  local stamp=.venv/.installed-$(cat pyproject.toml requirements/*.txt fleetdeploy/serve/requirements.txt 2>/dev/null | sha256sum | cut -c1-16)
  [ -f "$stamp" ] && return 0
  echo "==> creating .venv and installing fleetdeploy with its dev tools"
  python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev]'
  rm -f .venv/.installed-*
  touch "$stamp"
}

install_system_packages
ensure_dockerd
ensure_venv
