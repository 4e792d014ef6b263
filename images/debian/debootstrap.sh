#!/bin/sh
# Recipe of fleetdeploy/debian:<release>: a minimal Debian root filesystem made from Debian's own
# packages, so no container registry is ever needed. fleetdeploy runs this as root, tars TARGET and
# `docker import`s it; every image of the sandbox starts from here.
#   usage: debootstrap.sh RELEASE TARGET [MIRROR]
set -eu
release=$1
target=$2
mirror=${3:-http://deb.debian.org/debian}

debootstrap --variant=minbase --components=main --include=ca-certificates \
  "$release" "$target" "$mirror"

# Images are rebuilt from the recipe, never upgraded in place: drop what only bloats the layer.
chroot "$target" apt-get clean
rm -rf "$target"/var/lib/apt/lists/* "$target"/var/cache/apt/*.bin "$target"/var/log/*.log \
  "$target"/var/log/apt/* "$target"/tmp/* "$target"/root/.bash_history
# Containers get their own resolver and hostname from Docker.
: > "$target"/etc/resolv.conf
: > "$target"/etc/hostname
