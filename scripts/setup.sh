#!/usr/bin/env bash
# Installs everything pocketkube needs on a fresh Debian machine of this kind, idempotently:
# the system packages (apt-get), a Python virtualenv in .venv with pocketkube and its dev tools,
# and a `pocketkube` command on PATH. Re-running it is cheap: each step is skipped when done.
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(etcd-server etcd-client containerd runc containernetworking-plugins busybox-static docker-registry skopeo prometheus)

missing=()
for pkg in "${SYSTEM_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Packages that start a system service on install (with systemd): pocketkube runs its own private
  # instances, so stop the services this run just installed (never ones the machine already had).
  declare -A SERVICE=([etcd-server]=etcd [prometheus]=prometheus [docker-registry]=docker-registry
                      [containerd]=containerd)
  if command -v systemctl >/dev/null 2>&1; then
    for pkg in "${missing[@]}"; do
      svc="${SERVICE[$pkg]:-}"
      if [ -n "$svc" ] && systemctl is-active --quiet "$svc" 2>/dev/null; then
        $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
      fi
    done
  fi
fi

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.pocketkube-installed
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing Python dependencies"
  .venv/bin/pip install -q --disable-pip-version-check -e '.[dev]'
  echo "$want" > "$stamp"
fi

# The command on PATH: a link to this checkout's venv. A link left by a checkout that moved or was
# deleted (dangling) is replaced; a working link to another checkout or a real file is left alone.
link=/usr/local/bin/pocketkube
if [ -w /usr/local/bin ] && { [ ! -e "$link" ] || { [ -L "$link" ] && [ ! -e "$(readlink "$link")" ]; }; }; then
  ln -sfn "$PWD/.venv/bin/pocketkube" "$link"
fi
