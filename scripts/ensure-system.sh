#!/usr/bin/env bash
# Make sure the system parts Shian needs exist: Chromium (for rendered pages and
# screenshots), CJK fonts (Chinese glyphs in screenshots and PDFs), poppler
# (pdftotext, used by tests), the OCR runtime's libraries, Java + Maven (only
# for the local search-engine node that `make test` starts).
set -euo pipefail

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -d /usr/share/fonts/opentype/noto ] || need+=(fonts-noto-cjk)
command -v pdftotext >/dev/null || need+=(poppler-utils)
command -v openssl >/dev/null || need+=(openssl)
ldconfig -p | grep -q 'libGL.so.1' || need+=(libgl1)
ldconfig -p | grep -q 'libglib-2.0.so.0' || need+=(libglib2.0-0)
command -v gcc >/dev/null || need+=(gcc)
"${PYTHON:-python3}" -c 'import os, sysconfig; os.stat(os.path.join(sysconfig.get_paths()["include"], "Python.h"))' \
  2>/dev/null || need+=(python3-dev)
if [ "${SHIAN_NEED_JAVA:-0}" = 1 ]; then
  command -v java >/dev/null || need+=(openjdk-17-jdk-headless)
  command -v mvn >/dev/null || need+=(maven)
fi
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ]; then
  echo "installing system packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
elif [[ " ${need[*]} " == *" chromium "* ]] && [ -x .venv/bin/playwright ]; then
  echo "not root: fetching Playwright's own Chromium; other missing packages: ${need[*]}" >&2
  .venv/bin/playwright install chromium
else
  echo "missing system packages: ${need[*]} (run as root, or install them)" >&2
  exit 1
fi
