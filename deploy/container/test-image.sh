#!/usr/bin/env bash
# Builds the image from the repository's Containerfile with podman and checks it the way
# the Kubernetes Job uses it (issue 17, item 5):
#   1. `quorum backtest` in the image on the shipped sample;
#   2. the 4-point sample sweep planned in one container onto a mounted volume, each shard
#      run in its own container with JOB_COMPLETION_INDEX set (as an Indexed Job's pods),
#      shard 1 twice (a retried pod skips a finished shard), then merged;
#   3. with QUORUM set, that leaderboard equals a local sweep's by that binary, byte for byte.
#
#   deploy/container/test-image.sh [--local-bases]           (needs root; installs podman)
#   QUORUM=target/debug/quorum deploy/container/test-image.sh
#
# Bases: the Containerfile starts from docker.io's rust:1-bookworm and debian:bookworm-slim.
# Where those cannot be pulled (`--local-bases`, or the pull fails: a machine that reaches
# Debian's mirror and crates.io but no container registry, as this project's CI), it makes
# equivalent bases locally and passes them as build arguments, the Containerfile unchanged:
# Debian bookworm by debootstrap from deb.debian.org, and for the build stage that plus gcc
# and the host's own Rust toolchain (`rustc --print sysroot`, bin/ and lib/) and local
# certificate authorities (/usr/local/share/ca-certificates).
#
# Runtime: a probe container runs first on the Debian base; podman's defaults (crun, raise RLIMIT_NOFILE/NPROC) fail in some sandboxed VMs
# (cgroup v1 with a cgroup2 mount, limits that cannot be raised). When a probe container
# fails, the script says so and runs podman with runc and the host's own limits.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO="$PWD"
TAG="${TAG:-localhost/quorum:test}"
LOCAL_BASES=0
[ "${1:-}" = "--local-bases" ] && LOCAL_BASES=1
WORK="${QUORUM_CONTAINER_WORK:-/var/tmp/quorum-container}"
mkdir -p "$WORK"

need() { # command package...
    command -v "$1" >/dev/null && return
    echo "== installing ${*:2} (Debian packages)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${@:2}" >/dev/null
}
need podman podman

DEBIAN_BASE=localhost/quorum-debian:bookworm
RUST_BASE=localhost/quorum-rust:bookworm
PODMAN=(podman)

make_debian_base() {
    podman image exists "$DEBIAN_BASE" && return
    need debootstrap debootstrap
    echo "== debootstrap Debian bookworm (minbase) from deb.debian.org"
    rm -rf "$WORK/rootfs"
    debootstrap --variant=minbase bookworm "$WORK/rootfs" http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1 ||
        { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }
    cat >"$WORK/rootfs/etc/apt/sources.list" <<'SOURCES'
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
    rm -rf "$WORK/rootfs/var/cache/apt/archives/"*.deb "$WORK/rootfs/var/lib/apt/lists/"*
    tar -C "$WORK/rootfs" -c . | podman import --change 'CMD ["bash"]' - "$DEBIAN_BASE" >/dev/null
    rm -rf "$WORK/rootfs"
}

use_compat_runtime() { # image
    need runc runc
    export CONTAINERS_CONF="$WORK/containers.conf"
    # The host's own process limit first, then lower ones: one sandbox seen refuses an
    # RLIMIT_NPROC above 32768 in a container even below the host's hard limit.
    for nproc in "$(ulimit -Su)" 32768 4096; do
        cat >"$CONTAINERS_CONF" <<CONF
# Written by quorum's deploy/container/test-image.sh: runc and the host's own limits.
[containers]
default_ulimits = ["nofile=$(ulimit -Sn):$(ulimit -Hn)", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
CONF
        podman run --rm "$1" true 2>"$WORK/probe.err" && { echo "   runc, nproc $nproc"; return; }
    done
    cat "$WORK/probe.err" >&2
    exit 1
}

if [ "$LOCAL_BASES" = 0 ]; then
    echo "== pulling the Containerfile's bases from docker.io"
    if ! timeout 120 podman pull -q docker.io/library/debian:bookworm-slim >/dev/null 2>&1 ||
        ! timeout 600 podman pull -q docker.io/library/rust:1-bookworm >/dev/null 2>&1; then
        echo "   cannot pull them: making equivalent bases locally"
        LOCAL_BASES=1
    fi
fi
probe_image=docker.io/library/debian:bookworm-slim
if [ "$LOCAL_BASES" = 1 ]; then
    make_debian_base
    probe_image="$DEBIAN_BASE"
fi
if ! podman run --rm "$probe_image" true 2>"$WORK/probe.err"; then
    echo "== podman's default runtime failed ($(tail -1 "$WORK/probe.err")): using runc and the host's limits"
    use_compat_runtime "$probe_image"
fi

BUILD_ARGS=()
if [ "$LOCAL_BASES" = 1 ]; then
    if ! podman image exists "$RUST_BASE"; then
        sysroot="$(rustc --print sysroot)"
        echo "== build base: Debian bookworm, gcc and the host's $(rustc --version)"
        rm -rf "$WORK/rust-ctx"
        mkdir -p "$WORK/rust-ctx"
        cp -al "$sysroot/bin" "$sysroot/lib" "$WORK/rust-ctx/" 2>/dev/null ||
            cp -a "$sysroot/bin" "$sysroot/lib" "$WORK/rust-ctx/"
        # The host's own certificate authorities too: a machine that reaches crates.io
        # through a TLS-inspecting proxy (this project's CI does) trusts the proxy's CA
        # there, and cargo in the build stage must as well.
        mkdir -p "$WORK/rust-ctx/ca"
        cp /usr/local/share/ca-certificates/*.crt "$WORK/rust-ctx/ca/" 2>/dev/null || true
        cat >"$WORK/rust-ctx/Containerfile" <<CF
FROM $DEBIAN_BASE
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev ca-certificates \\
    && rm -rf /var/lib/apt/lists/*
COPY ca /usr/local/share/ca-certificates
RUN update-ca-certificates >/dev/null
COPY bin /usr/local/rust/bin
COPY lib /usr/local/rust/lib
ENV PATH=/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    CARGO_HOME=/usr/local/cargo
CF
        podman build -q -t "$RUST_BASE" -f "$WORK/rust-ctx/Containerfile" "$WORK/rust-ctx" >/dev/null
        rm -rf "$WORK/rust-ctx"
    fi
    BUILD_ARGS=(--build-arg "RUST_IMAGE=$RUST_BASE" --build-arg "DEBIAN_IMAGE=$DEBIAN_BASE")
fi

echo "== podman build -f Containerfile ${BUILD_ARGS[*]}"
start=$(date +%s)
podman build "${BUILD_ARGS[@]}" -t "$TAG" -f Containerfile . >"$WORK/build.log" 2>&1 ||
    { tail -40 "$WORK/build.log" >&2; exit 1; }
echo "   built $TAG in $(($(date +%s) - start)) s; $(podman image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}')"

echo "== quorum backtest in the image"
out="$(podman run --rm "$TAG" backtest --out /tmp/run)"
echo "$out" | grep -q '^run folder: /tmp/run' || { echo "$out" | tail -5 >&2; echo "the backtest did not finish" >&2; exit 1; }
echo "$out" | head -12

RUN="$(mktemp -d "$WORK/sweep.XXXXXX")"
trap 'rm -rf "$RUN"' EXIT
GRID=(-v "$REPO/deploy/slurm/sample-grid.toml:/grid/sample-grid.toml:ro" -v "$RUN:/sweeps")
echo "== sweep plan in one container, 4 shards in 4 more (JOB_COMPLETION_INDEX), shard 1 twice"
podman run --rm "${GRID[@]}" "$TAG" sweep plan /grid/sample-grid.toml --out /sweeps/sweep
for k in 0 1 2 3 1; do
    podman run --rm "${GRID[@]}" -e JOB_COMPLETION_INDEX=$k "$TAG" sweep run /sweeps/sweep 2>&1 | tail -1
done
podman run --rm "${GRID[@]}" "$TAG" sweep merge /sweeps/sweep
[ -s "$RUN/sweep/leaderboard.parquet" ] || { echo "no leaderboard" >&2; exit 1; }

if [ -n "${QUORUM:-}" ]; then
    echo "== the same sweep by $QUORUM on this machine"
    "$(realpath "$QUORUM")" sweep deploy/slurm/sample-grid.toml -j 2 --out "$RUN/local" -q
    cmp "$RUN/local/leaderboard.parquet" "$RUN/sweep/leaderboard.parquet"
    cmp "$RUN/local/leaderboard.json" "$RUN/sweep/leaderboard.json"
    echo "   the image's leaderboard equals the local one byte for byte"
fi
echo "== the image builds, backtests and runs sweep shards"
