#!/usr/bin/env bash
# `npm run test:container`: builds the shipped image and tests it for real.
#  1. a Docker engine (installed and started when missing),
#  2. the Dockerfile's base image (built locally when it cannot be pulled),
#  3. `docker build` of this repository,
#  4. the tap tests in test/container/ against that image and compose.yaml.
set -euo pipefail
cd "$(dirname "$0")/.."

image=${DOCKER_CD_IMAGE:-docker-cd:test}

bash scripts/ensure-docker-engine.sh
bash scripts/build-base-image.sh

# Behind a TLS-intercepting proxy the build's `npm install` must trust the
# proxy's CA, as this machine's Node does through NODE_EXTRA_CA_CERTS. The
# Dockerfile picks up build-ca.pem when present (public certificates only).
if [[ -n ${NODE_EXTRA_CA_CERTS:-} && -f $NODE_EXTRA_CA_CERTS && ! -e build-ca.pem ]]; then
  cp "$NODE_EXTRA_CA_CERTS" build-ca.pem
  trap 'rm -f build-ca.pem' EXIT
fi

echo "building $image"
build_started=$SECONDS
docker build --network host --tag "$image" . >"${TMPDIR:-/tmp}/docker-cd-build.log" 2>&1 || {
  tail -40 "${TMPDIR:-/tmp}/docker-cd-build.log"
  echo "docker build failed"
  exit 1
}
size=$(docker image inspect --format '{{.Size}}' "$image")
echo "built $image in $((SECONDS - build_started)) s; size $((size / 1000000)) MB"

tests_started=$SECONDS
DOCKER_CD_IMAGE=$image npx tap --disable-coverage --exclude= test/container/
echo "container tests took $((SECONDS - tests_started)) s"
