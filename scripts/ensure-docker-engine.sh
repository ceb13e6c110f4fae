#!/usr/bin/env bash
# Makes sure a Docker engine answers on /var/run/docker.sock, installing and
# starting Debian's docker.io when there is none (CI machines have only the
# docker client). Also installs the tools the container test needs:
# docker-compose (validates compose.yaml) and mmdebstrap (builds the base
# image when the registry image cannot be pulled).
set -euo pipefail

log_file=${DOCKERD_LOG:-${TMPDIR:-/tmp}/docker-cd-dockerd.log}

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo -n "$@"; fi
}

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "installing ${missing[*]} (Debian packages)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

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
