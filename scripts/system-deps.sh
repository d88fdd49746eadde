#!/usr/bin/env bash
# Install the Debian packages the tests and the demo need, when running as root and they are missing.
set -euo pipefail
need=()
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
command -v nft >/dev/null 2>&1 || need+=(nftables)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
command -v pkill >/dev/null 2>&1 || need+=(procps)
fc-list 2>/dev/null | grep -qi dejavu || need+=(fonts-dejavu-core)
# real VPN/Tor software for the platform area's interoperability tests (run only inside lab namespaces)
command -v wireguard-go >/dev/null 2>&1 || need+=(wireguard-go)
command -v wg >/dev/null 2>&1 || need+=(wireguard-tools)
command -v openvpn >/dev/null 2>&1 || need+=(openvpn)
command -v tor >/dev/null 2>&1 || need+=(tor)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "system-deps: missing Debian packages: ${need[*]} (run as root, or install them yourself)" >&2
  exit 0
fi
echo "system-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
# Never let a package start its service (tor, openvpn): nothing may talk to the outside world.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && made_policy=1
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
if [ "$made_policy" = 1 ]; then rm -f "$policy"; fi
