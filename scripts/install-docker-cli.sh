#!/usr/bin/env bash
# Installs the docker CLI for SYNC_TARGET=swarm in the image (the Dockerfile
# runs this file): `docker stack deploy` and `docker stack rm` are the CLI's
# own commands (no plugin has them), and the image otherwise ships only the
# Compose plugin. Debian trixie's docker-cli (26.1) depends on nothing but
# libc6 (>= 2.34): it installs on bookworm as it is, fetched with a private
# apt configuration as install-compose-v2.sh does (sources stay bookworm).
# 26.1 reads Compose files without `version:` and has `docker stack
# config`; bookworm's 20.10 has neither. Not for CI machines that carry
# bookworm's docker.io: its /usr/bin/docker would conflict.
set -euo pipefail

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo -n "$@"; fi
}

echo "installing the docker CLI (Debian trixie's docker-cli package)"
apt_dir=$(mktemp -d)
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
echo 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main' \
  >"$apt_dir/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
  -o APT::Sandbox::User=root)
as_root apt-get "${apt_opts[@]}" update -qq
(cd "$apt_dir" && as_root apt-get "${apt_opts[@]}" download -qq docker-cli)
as_root dpkg -i "$apt_dir"/docker-cli_*.deb >/dev/null
as_root rm -rf "$apt_dir"
