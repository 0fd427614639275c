#!/usr/bin/env bash
# Make this machine able to run docker-compose.yml: a Docker engine, docker-compose, and a base image.
#
#   scripts/compose-setup.sh [BASE_IMAGE]
#
# 1. Installs Debian's docker.io, docker-compose (1.29) and debootstrap when they are missing (apt-get, as root).
# 2. Starts dockerd with the vfs storage driver when no engine answers: vfs needs no overlay or device-mapper
#    support from the kernel, so it runs inside the sandboxes and CI machines this project meets. The
#    daemon's process id goes to $DOCKERD_PIDFILE, so that whoever asked for it can stop it again.
# 3. Builds BASE_IMAGE (default caravan-base:bookworm) when it is not there, for machines that reach no image
#    registry: a minimal Debian bookworm made by debootstrap from Debian's own packages, with python3,
#    python3-venv and ca-certificates, the host's local CA certificates (a machine whose traffic passes a
#    TLS-inspecting gateway needs them for pip inside the image build), and a venv at /opt/venv (Debian's
#    python3 refuses system-wide pip installs, PEP 668). `tar | docker import` turns the tree into an image.
#    A BASE_IMAGE from a registry (python:3.11-slim-bookworm) is left to `docker-compose build` to pull.
set -euo pipefail

BASE_IMAGE=${1:-caravan-base:bookworm}
LOCAL_BASE=caravan-base:bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DOCKERD_PIDFILE=${DOCKERD_PIDFILE:-/run/caravan-dockerd.pid}
DOCKERD_LOG=${DOCKERD_LOG:-/var/log/caravan-dockerd.log}

say() { echo "compose-setup: $*"; }
die() { echo "compose-setup: $*" >&2; exit 1; }

install_packages() {
    local missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v docker-compose >/dev/null || missing+=(docker-compose)
    if [[ $BASE_IMAGE == "$LOCAL_BASE" ]] && ! command -v debootstrap >/dev/null; then missing+=(debootstrap); fi
    [[ ${#missing[@]} -eq 0 ]] && return
    [[ $(id -u) -eq 0 ]] || die "missing ${missing[*]}; install them (sudo apt-get install ${missing[*]}) or run as root"
    say "installing ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
}

start_engine() {
    local answer
    if answer=$(timeout 20 docker info 2>&1 >/dev/null); then
        say "a Docker engine answers"
        return
    fi
    [[ $(id -u) -eq 0 ]] || die "no Docker engine answers this user (docker info: ${answer##*$'\n'}); run this as \
root, which starts one (dockerd --storage-driver=vfs), or give this user a running one (the docker group)"
    say "starting dockerd --storage-driver=vfs (log: $DOCKERD_LOG)"
    setsid dockerd --storage-driver=vfs >>"$DOCKERD_LOG" 2>&1 < /dev/null &
    echo $! >"$DOCKERD_PIDFILE"
    for _ in $(seq 1 60); do
        timeout 10 docker info >/dev/null 2>&1 && { say "dockerd is up (pid $(cat "$DOCKERD_PIDFILE"))"; return; }
        kill -0 "$(cat "$DOCKERD_PIDFILE")" 2>/dev/null || { tail -n 20 "$DOCKERD_LOG" >&2; die "dockerd exited"; }
        sleep 1
    done
    tail -n 20 "$DOCKERD_LOG" >&2
    die "dockerd did not answer within 60 s"
}

build_local_base() {
    [[ $BASE_IMAGE == "$LOCAL_BASE" ]] || return 0
    if docker image inspect "$LOCAL_BASE" >/dev/null 2>&1; then
        say "base image $LOCAL_BASE is there"
        return
    fi
    local root
    root=$(mktemp -d /tmp/caravan-base.XXXXXX)
    say "building $LOCAL_BASE with debootstrap from $MIRROR (a few minutes)"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$root" "$MIRROR" \
        >"$root.log" 2>&1 || { tail -n 20 "$root.log" >&2; die "debootstrap failed (log: $root.log)"; }
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
        cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
    fi
    chroot "$root" update-ca-certificates >/dev/null
    chroot "$root" python3 -m venv /opt/venv
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -c . | docker import -c 'ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        - "$LOCAL_BASE" >/dev/null
    rm -rf "$root" "$root.log"
    say "base image $LOCAL_BASE built"
}

install_packages
start_engine
build_local_base
