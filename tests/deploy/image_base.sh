#!/usr/bin/env bash
# Makes the base image the Dockerfile's FROM names (debian:bookworm-slim)
# without a container registry: debootstrap a minimal Debian 12 from the Debian
# mirror apt uses here, import it into a container storage of its own
# (PORTPATH_CACHE/containers-DRIVER), tag it. Done once; later runs find it.
# Prints the storage options to pass to buildah/podman.
# Usage: opts=$(bash tests/deploy/image_base.sh)
set -euo pipefail
cache=${PORTPATH_CACHE:-/var/cache/portpath}
mkdir -p "$cache"
# overlay where the kernel allows it (a layer costs what it changes; with vfs
# every layer is a full copy, minutes per build), else vfs.
driver=vfs
probe_dir=$(mktemp -d)
mkdir "$probe_dir"/{l,u,w,m}
if mount -t overlay overlay -o "lowerdir=$probe_dir/l,upperdir=$probe_dir/u,workdir=$probe_dir/w" \
     "$probe_dir/m" 2>/dev/null; then
  umount "$probe_dir/m"
  driver=overlay
fi
rm -rf "$probe_dir"
root="$cache/containers-$driver"
runroot=/run/portpath-containers-$driver
opts="--root $root --runroot $runroot --storage-driver $driver"
name=docker.io/library/debian:bookworm-slim
mkdir -p "$root" "$runroot"
exec 9>"$cache/image-base.lock"
flock 9
# shellcheck disable=SC2086
if ! podman $opts image exists "$name" 2>/dev/null; then
  mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
  mirror=${mirror:-http://deb.debian.org/debian}
  rootfs=$(mktemp -d "$cache/rootfs.XXXXXX")
  trap 'rm -rf "$rootfs"' EXIT
  echo "image_base: debootstrap --variant=minbase bookworm from $mirror (once)" >&2
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
    { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
  # As the official slim image: no apt caches, no documentation.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
    "$rootfs"/usr/share/man/*
  # shellcheck disable=SC2086
  tar -C "$rootfs" -c . | podman $opts import --quiet - "$name" >/dev/null
fi
echo "$opts"
