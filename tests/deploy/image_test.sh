#!/usr/bin/env bash
# The container image, built and run for real without a registry: the
# Dockerfile passes dockerfilelint; buildah builds it (from a debootstrapped
# Debian 12 base, tests/deploy/image_base.sh; layers cached in
# PORTPATH_CACHE/containers-overlay, compiles through ccache, so a rebuild
# takes seconds to a minute);
# the image runs as uid 65532 with only NET_RAW allowed and no-new-privileges
# (what the Kubernetes bundle sets), in a network namespace of its own with
# nothing but loopback; its /metrics answers, it probes with raw sockets
# thanks to the file capability, it traced its default target, and the ASN
# data is there with its CC BY notice. Usage: image_test.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/tests/lab/test_lib.sh"
for tool in buildah podman debootstrap; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not found"; exit 77; }
done
[[ $EUID -eq 0 ]] || { echo "SKIP: needs root (buildah, network namespaces)"; exit 77; }
tools=$(bash "$root/tests/deploy/npm_tools.sh")
read -r -a storage <<<"$(bash "$root/tests/deploy/image_base.sh")"
image=localhost/portpath:test
ns=ptimg$$
cid=""
mnt=""
cleanup() {
  [[ -n $cid ]] && podman "${storage[@]}" rm -f "$cid" >/dev/null 2>&1 || true
  [[ -n $mnt ]] && podman "${storage[@]}" image unmount "$image" >/dev/null 2>&1 || true
  ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT

out=$("$tools/node_modules/.bin/dockerfilelint" "$root/Dockerfile" 2>&1) && rc=0 || rc=$?
check "dockerfilelint Dockerfile" 0 "$rc"
[[ $rc == 0 ]] || echo "$out"

# The npm registry may sit behind a TLS-intercepting proxy whose CA only this
# machine's npm knows: hand the same CA file to the build (a build secret).
secret=()
cafile=$(npm config get cafile 2>/dev/null || true)
[[ -s $cafile ]] || cafile=${NODE_EXTRA_CA_CERTS:-}
[[ -s $cafile ]] && secret=(--secret "id=npm_cafile,src=$cafile")
start=$SECONDS
buildah "${storage[@]}" bud --quiet --layers --pull-never --isolation chroot \
  --network host "${secret[@]}" --tag "$image" "$root" >"${TMPDIR:-/tmp}/portpath-image-build.log" 2>&1 && rc=0 || rc=$?
check "buildah bud (in $((SECONDS - start)) s)" 0 "$rc"
[[ $rc == 0 ]] || { tail -30 "${TMPDIR:-/tmp}/portpath-image-build.log"; lab_test_end; exit 1; }

cfg=$(podman "${storage[@]}" image inspect "$image" --format '{{.Config.User}}|{{json .Config.Entrypoint}}|{{index .Config.Labels "org.opencontainers.image.title"}}')
check "runs as 65532, entrypoint portpath serve --config /etc/portpath/config.yaml, OCI labels" \
  '65532:65532|["portpath","serve","--config","/etc/portpath/config.yaml"]|portpath' "$cfg"
mnt=$(podman "${storage[@]}" image mount "$image")
check "the binary carries cap_net_raw+ep" "cap_net_raw=ep" "$(getcap "$mnt/usr/bin/portpath" | awk '{print $2}')"
check "no other file carries capabilities or setuid" "" \
  "$(cd "$mnt" && { getcap -r usr bin sbin 2>/dev/null | grep -v '^usr/bin/portpath '; find . -xdev -perm /6000 -type f ! -path './usr/bin/portpath' 2>/dev/null | grep -vE '^\./(usr/)?bin/(su|mount|umount|passwd|chsh|chfn|gpasswd|newgrp|chage|expiry)$|unix_chkpwd$'; } | tr '\n' ' ')"
check "ASN data with its licence and notice" "yes yes yes" \
  "$([[ -s $mnt/usr/share/portpath/asn/asn-ipv4.csv ]] && echo yes) $(ls "$mnt"/usr/share/portpath/asn/*LICENSE* >/dev/null 2>&1 && echo yes) $(grep -q 'CC BY 4.0' "$mnt/usr/share/portpath/asn/NOTICE" && echo yes)"
check "no compiler or npm in the image" "" "$(ls "$mnt"/usr/bin/g++ "$mnt"/usr/bin/npm "$mnt"/usr/bin/cmake 2>/dev/null | tr '\n' ' ')"
echo "    image size: $(du -sm "$mnt" | cut -f1) MB"
podman "${storage[@]}" image unmount "$image" >/dev/null
mnt=""

ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
cid=$(podman "${storage[@]}" run -d --runtime runc --cgroup-manager cgroupfs --events-backend file \
  --network "ns:/run/netns/$ns" --cap-drop ALL --cap-add NET_RAW --security-opt no-new-privileges \
  --read-only --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 "$image")
scrape() { ip netns exec "$ns" curl -sf http://127.0.0.1:9750/metrics; }
ok=no
for _ in $(seq 1 60); do
  if scrape | grep -q '^portpath_outcome{.*target="127.0.0.1:9750".*outcome="open"} 1'; then ok=yes; break; fi
  sleep 0.5
done
check "/metrics answers, and the default target (its own port) is open" yes "$ok"
[[ $ok == yes ]] || podman "${storage[@]}" logs "$cid" | tail -20
check "raw sockets as uid 65532 with no-new-privileges (file capability)" 1 \
  "$(scrape | sed -n 's/^portpath_probe_mode{mode="raw"} \([0-9]\).*/\1/p')"
asn=no
for _ in $(seq 1 20); do  # the container's log file may lag its output a little
  podman "${storage[@]}" logs "$cid" 2>&1 | grep -q 'ASN database /usr/share/portpath/asn: [0-9]* ranges' &&
    { asn=yes; break; }
  sleep 0.5
done
check "the ASN data loads" yes "$asn"
[[ $asn == yes ]] || podman "${storage[@]}" logs "$cid" 2>&1 | tail -5
check "the status page answers" 200 \
  "$(ip netns exec "$ns" curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9750/)"
check "no capability left once running" 0000000000000000 \
  "$(podman "${storage[@]}" exec "$cid" sh -c 'grep CapEff /proc/1/status' | awk '{print $2}')"
lab_test_end
