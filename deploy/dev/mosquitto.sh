#!/usr/bin/env bash
# Ensures mosquitto is installed: the broker binary for the integration tests
# (they start their own on a free port) and the clients (mosquitto_pub,
# mosquitto_sub) of the README's walkthrough. The package's system service is
# kept from starting so it does not hold port 1883.
set -euo pipefail
if { command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ]; } &&
  command -v mosquitto_passwd >/dev/null && command -v mosquitto_pub >/dev/null; then
  exit 0
fi
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "mosquitto: need root (or sudo) to run: $*" >&2; exit 1; fi
}
echo "mosquitto: installing the mosquitto and mosquitto-clients packages" >&2
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod +x $policy"
  trap 'as_root rm -f '"$policy" EXIT
fi
as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto mosquitto-clients >&2
