#!/usr/bin/env bash
# The local AWS API the EBS direct tests run against: moto's server, from
# PyPI, pinned, in a virtualenv cached under $I2KIT_CACHE (reused when present).
set -euo pipefail
cache="${I2KIT_CACHE:-$HOME/.cache/i2kit}"
venv="$cache/moto-venv-5.2.5"
if [ ! -x "$venv/bin/moto_server" ]; then
  rm -rf "$venv"
  mkdir -p "$cache"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==5.2.5"
fi
echo "$venv/bin/moto_server"
