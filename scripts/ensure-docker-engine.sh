#!/usr/bin/env bash
# Makes sure a Docker engine answers on /var/run/docker.sock, installing and
# starting Debian's docker.io when there is none (CI machines have only the
# docker client). Also installs what the host and container tests need:
# Compose v2 (the `docker compose` plugin, which also answers as
# `docker-compose`), busybox-static (the tiny local test image) and
# mmdebstrap (builds the base image when the registry image cannot be pulled).
set -euo pipefail

log_file=${DOCKERD_LOG:-${TMPDIR:-/tmp}/docker-cd-dockerd.log}

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo -n "$@"; fi
}

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
[[ -x /bin/busybox ]] && /bin/busybox --list >/dev/null 2>&1 || missing+=(busybox-static)
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "installing ${missing[*]} (Debian packages)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# Compose v2 (bookworm has only v1): see install-compose-v2.sh.
if ! docker compose version --short 2>/dev/null | grep -q '^v\?2\.'; then
  bash "$(dirname "$0")/install-compose-v2.sh"
fi
echo "compose $(docker compose version --short)"

if docker info >/dev/null 2>&1; then
  exit 0
fi

# No bridge and no iptables: this sandbox has no netfilter; every container
# the tests run uses --network host.
echo "starting dockerd (log: $log_file)"
as_root sh -c "nohup dockerd --iptables=false --bridge=none >'$log_file' 2>&1 &"

# Wait on the condition (the engine answers), with a deadline.
deadline=$((SECONDS + 60))
until docker info >/dev/null 2>&1; do
  if ((SECONDS > deadline)); then
    echo "dockerd did not answer within 60 s; last log lines:" >&2
    tail -20 "$log_file" >&2 || true
    exit 1
  fi
  sleep 0.5
done
echo "docker engine $(docker version --format '{{.Server.Version}}') is up"
