#!/usr/bin/env bash
# The shard protocol on a real scheduler (issue 17, item 5): starts a single-node Slurm
# (deploy/slurm/single-node.sh, Debian's slurm-wlm and munge), runs the 4-point sample
# sweep locally, plans it again and submits it as a 4-task array (deploy/slurm/sweep.sbatch),
# requeues one task while it runs (Slurm kills it and queues it again), waits, merges, and
# checks that the merged leaderboard equals the local sweep's byte for byte.
#
#   QUORUM=target/release/quorum deploy/slurm/test-sweep.sh     (needs root; .ci/run runs it)
set -euo pipefail
cd "$(dirname "$0")/../.."
QUORUM="$(realpath "${QUORUM:-target/release/quorum}")"
[ -x "$QUORUM" ] || { echo "no quorum binary at $QUORUM: cargo build --release, or set QUORUM" >&2; exit 1; }
bash deploy/slurm/single-node.sh
mkdir -p target
WORK="$(mktemp -d "$PWD/target/slurm-sweep.XXXXXX")"
grid=deploy/slurm/sample-grid.toml

echo "== local sweep (-j 2)"
"$QUORUM" sweep "$grid" -j 2 --out "$WORK/local" -q
echo "== plan, then a 4-task Slurm array"
"$QUORUM" sweep plan "$grid" --out "$WORK/slurm"
job="$(sbatch --parsable --array=0-3 --chdir="$PWD" --output="$WORK/task-%A_%a.log" \
    --export=ALL,SWEEP_DIR="$WORK/slurm",QUORUM="$QUORUM" deploy/slurm/sweep.sbatch)"
echo "job $job submitted"

victim=2
log="$WORK/task-${job}_${victim}.log"
# Wait until the task's script has started (its first line is in its log), then let the
# shard get going.
for _ in $(seq 1 6000); do
    grep -q 'restart count 0' "$log" 2>/dev/null && break
    sleep 0.05
done
grep -q 'restart count 0' "$log" 2>/dev/null || { echo "task $victim never started" >&2; squeue; exit 1; }
sleep 0.3
echo "== requeue task $victim while it runs"
scontrol requeue "${job}_${victim}"
# A requeued task waits for a begin time two minutes on; start it as soon as it is pending.
for _ in $(seq 1 300); do
    st="$(squeue -h -j "${job}_${victim}" -o '%T %r' 2>/dev/null || true)"
    case "$st" in
        PENDING*BeginTime*) scontrol update JobId="${job}_${victim}" StartTime=now && break ;;
        RUNNING*|"") break ;;
    esac
    sleep 0.1
done

for _ in $(seq 1 1200); do
    [ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && break
    sleep 0.5
done
[ -z "$(squeue -h -j "$job")" ] || { echo "the array did not finish in 10 minutes" >&2; squeue; exit 1; }

cat "$log"
starts="$(grep -c '^task .* start' "$log")"
dones="$(grep -c "shard ${victim}: done" "$log" || true)"
[ "$starts" = 2 ] && grep -q 'restart count 1' "$log" || { echo "task $victim was not requeued" >&2; exit 1; }
[ "$dones" = 1 ] || { echo "task $victim finished before it was requeued ($dones results); rerun" >&2; exit 1; }
for k in 0 1 2 3; do grep -q "shard $k: done" "$WORK/task-${job}_${k}.log" || { echo "shard $k: no result" >&2; exit 1; }; done

echo "== merge"
"$QUORUM" sweep merge "$WORK/slurm" >/dev/null
cmp "$WORK/local/leaderboard.parquet" "$WORK/slurm/leaderboard.parquet"
cmp "$WORK/local/leaderboard.json" "$WORK/slurm/leaderboard.json"
echo "== slurm: 4 shards, task $victim killed by a requeue and rerun; the merged leaderboard equals the local sweep's byte for byte"
rm -rf "$WORK"
