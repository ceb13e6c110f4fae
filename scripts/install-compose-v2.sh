#!/usr/bin/env bash
# Installs Compose v2 on Debian bookworm, on this machine or in the image
# (the Dockerfile runs this same file). Bookworm has only Compose v1;
# Debian trixie's docker-compose (2.26.1) installs here as it is
# (install-trixie-package.sh). It puts the plugin in
# /usr/libexec/docker/cli-plugins/ (the docker CLI finds it there, and
# docker-cd runs it directly).
set -euo pipefail

echo "installing Compose v2"
bash "$(dirname "$0")/install-trixie-package.sh" docker-compose
