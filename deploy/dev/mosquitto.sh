#!/usr/bin/env bash
# Ensures the mosquitto broker binary is installed for the integration tests.
# The tests start their own mosquitto on a free port; the package's system
# service is kept from starting so it does not hold port 1883.
set -euo pipefail
command -v mosquitto >/dev/null && command -v mosquitto_passwd >/dev/null && exit 0
[ -x /usr/sbin/mosquitto ] && exit 0
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "mosquitto: need root (or sudo) to run: $*" >&2; exit 1; fi
}
echo "mosquitto: installing the mosquitto package" >&2
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod +x $policy"
  trap 'as_root rm -f '"$policy" EXIT
fi
as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >&2
