#!/usr/bin/env bash
# Makes sure Debian's `age` (age, age-keygen) is installed: the secrets
# tests check docker-cd's age layer against the reference tool and make
# their keys with it. docker-cd itself never runs it (its age layer is the
# age-encryption package).
set -euo pipefail

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo -n "$@"; fi
}

if command -v age >/dev/null && command -v age-keygen >/dev/null; then
  exit 0
fi
echo "installing age (Debian package)"
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends age >/dev/null
age --version
