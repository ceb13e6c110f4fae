#!/usr/bin/env bash
# Makes sure OpenSSH's server binary is installed for the ssh tests (which
# start their own sshd on a loopback port with its own keys and config).
# CI machines have only the client. The package's own service is not
# started (policy-rc.d), nothing listens on port 22 because of this.
set -euo pipefail

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo -n "$@"; fi
}

if [[ -x /usr/sbin/sshd ]] && command -v ssh-keygen >/dev/null; then
  exit 0
fi
echo "installing openssh-server (Debian package)"
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
  as_root chmod +x "$policy"
  created_policy=1
fi
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  openssh-server openssh-client >/dev/null
if [[ $created_policy -eq 1 ]]; then as_root rm -f "$policy"; fi
/usr/sbin/sshd -V 2>&1 | head -1 || true
