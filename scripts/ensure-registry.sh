#!/usr/bin/env bash
# Makes sure Debian's `docker-registry` (the CNCF distribution registry) and
# `htpasswd` (apache2-utils, for the registry's bcrypt password file) are
# installed: the image-update tests run a real registry on loopback, which
# the engine trusts over plain HTTP without configuration (127.0.0.0/8 is an
# insecure registry by default). The package's own service is stopped and
# disabled: each test starts its own registry on a free port.
set -euo pipefail

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo -n "$@"; fi
}

if command -v docker-registry >/dev/null && command -v htpasswd >/dev/null; then
  exit 0
fi
echo "installing docker-registry and apache2-utils (Debian packages)"
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  docker-registry apache2-utils >/dev/null
# The package starts a registry on :5000; the tests want none running.
as_root systemctl disable --now docker-registry >/dev/null 2>&1 || true
as_root pkill -x docker-registry >/dev/null 2>&1 || true
docker-registry --version
