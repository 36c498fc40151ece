#!/usr/bin/env bash
# Installs the Debian packages kvtier's tests need when they are missing: nbdkit and qemu-nbd
# (real NBD servers) and openssl (test certificates). With --bench, also fio and nbdcopy, which
# the benchmarks compare against. Runs apt-get as root, or through sudo when it asks no
# password; otherwise fails at once with the one command to run. `./mvnw verify` calls it
# before the tests (skipped with -DskipTests).
set -euo pipefail

need=()
command -v nbdkit >/dev/null || need+=(nbdkit)
command -v qemu-nbd >/dev/null || need+=(qemu-utils)
command -v openssl >/dev/null || need+=(openssl)
if [[ "${1:-}" == "--bench" ]]; then
  command -v fio >/dev/null || need+=(fio)
  command -v nbdcopy >/dev/null || need+=(libnbd-bin)
fi
((${#need[@]})) || exit 0

install="apt-get install -y ${need[*]}"
if ! command -v apt-get >/dev/null; then
  echo "kvtier: the tests need ${need[*]} (Debian package names); install them and run again" >&2
  exit 1
fi
if [[ $(id -u) -eq 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "kvtier: the tests need ${need[*]}; run: sudo apt-get update && sudo $install" >&2
  exit 1
fi
echo "kvtier: installing ${need[*]} for the tests" >&2
"${sudo[@]}" apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
