#!/usr/bin/env bash
# Installs Compose v2 on Debian bookworm, on this machine or in the image
# (the Dockerfile runs this same file). Bookworm has only Compose v1;
# Debian trixie's docker-compose (2.26.1) depends on nothing but
# libc6 (>= 2.34), so its package installs here as it is. It is fetched
# with a private apt configuration (a trixie source list, lists and cache
# of its own under a temp dir): the system's sources stay bookworm-only,
# so nothing else is upgraded. It puts the plugin in
# /usr/libexec/docker/cli-plugins/ (the docker CLI finds it there, and
# docker-cd runs it directly).
set -euo pipefail

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo -n "$@"; fi
}

echo "installing Compose v2 (Debian trixie's docker-compose package)"
apt_dir=$(mktemp -d)
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
echo 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main' \
  >"$apt_dir/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
  -o APT::Sandbox::User=root)
as_root apt-get "${apt_opts[@]}" update -qq
(cd "$apt_dir" && as_root apt-get "${apt_opts[@]}" download -qq docker-compose)
as_root dpkg -i "$apt_dir"/docker-compose_*.deb >/dev/null
as_root rm -rf "$apt_dir"
