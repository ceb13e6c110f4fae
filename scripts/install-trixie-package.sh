#!/usr/bin/env bash
# Installs one package of Debian trixie on bookworm, on this machine or in
# the image: `install-trixie-package.sh docker-compose` (Compose v2,
# install-compose-v2.sh) or `docker-cli` (the docker CLI 26.1 for Swarm's
# `docker stack`, in the image only: a CI machine's bookworm docker.io owns
# /usr/bin/docker). Both depend on nothing but libc6 (>= 2.34), so they
# install here as they are. Fetched with a private apt configuration (a
# trixie source list, lists and cache of its own under a temp dir): the
# system's sources stay bookworm-only, so nothing else is upgraded.
set -euo pipefail

package=${1:?usage: install-trixie-package.sh PACKAGE}

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo -n "$@"; fi
}

echo "installing Debian trixie's $package package"
apt_dir=$(mktemp -d)
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
echo 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main' \
  >"$apt_dir/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
  -o APT::Sandbox::User=root)
as_root apt-get "${apt_opts[@]}" update -qq
(cd "$apt_dir" && as_root apt-get "${apt_opts[@]}" download -qq "$package")
as_root dpkg -i "$apt_dir/${package}"_*.deb >/dev/null
as_root rm -rf "$apt_dir"
