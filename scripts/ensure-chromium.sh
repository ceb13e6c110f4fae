#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed for the browser tests (driven
# by playwright-core with executablePath /usr/bin/chromium; playwright's own
# browser downloads are not reachable here, and not needed).
set -euo pipefail

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo -n "$@"; fi
}

if [[ -x /usr/bin/chromium ]]; then
  /usr/bin/chromium --version 2>/dev/null || true
  exit 0
fi
echo "installing chromium (Debian package)"
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  chromium fonts-dejavu-core >/dev/null
/usr/bin/chromium --version 2>/dev/null || true
