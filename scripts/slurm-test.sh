#!/usr/bin/env bash
# A real Slurm on this machine (issue 17): installs Debian's slurm-wlm and
# munge (as root), starts munged, slurmctld and slurmd for this host from a
# generated slurm.conf, submits deploy/slurm/submit.sh over sample-images/
# with N = 3 shards and the dependent merge, waits for them, and compares
# the merged outputs with a plain run. Stops every daemon it started.
#
# Where it cannot install or start Slurm it prints SKIPPED and exits 0,
# except under CI (CI set), where that fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)

skip() {
    echo "slurm-test: SKIPPED: $*" >&2
    if [ -n "${CI:-}" ]; then
        echo "slurm-test: under CI the Slurm test must run" >&2
        exit 1
    fi
    exit 0
}

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
        skip "no Slurm here, and no root apt-get to install it"
    fi
    echo "slurm-test: installing Debian's slurm-wlm and munge" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends slurm-wlm munge >/dev/null ||
        { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends slurm-wlm munge >/dev/null; } ||
        skip "apt-get could not install slurm-wlm and munge"
fi
[ "$(id -u)" -eq 0 ] || skip "starting slurmd needs root"
binary="$repo/target/release/cellvia"
[ -x "$binary" ] || cargo build --release --quiet

work=$(mktemp -d /tmp/cellvia-slurm.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# munge: its own key, socket and logs under $work.
mkdir -p "$work/munge" "$work/state" "$work/spool" "$work/results"
chown munge:munge "$work/munge" 2>/dev/null || true
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chown munge:munge "$work/munge/munge.key" 2>/dev/null || true
chmod 400 "$work/munge/munge.key"
socket="$work/munge/munge.socket"
runuser -u munge -- munged --foreground --force --key-file="$work/munge/munge.key" \
    --socket="$socket" --pid-file="$work/munge/munged.pid" --log-file="$work/munge/munged.log" \
    --seed-file="$work/munge/munge.seed" >"$work/munge/munged.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -S "$socket" ] && break; sleep 0.1; done
[ -S "$socket" ] || skip "munged did not start: $(cat "$work/munge/munged.log" 2>/dev/null)"

host=$(hostname -s)
cpus=$(nproc)
export SLURM_CONF="$work/slurm.conf"
cat > "$SLURM_CONF" <<CONF
ClusterName=cellvia-test
SlurmctldHost=$host
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
SlurmctldPort=16817
SlurmdPort=16818
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld -D -i >"$work/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D >"$work/slurmd.out" 2>&1 &
pids+=($!)
for _ in $(seq 60); do
    state=$(sinfo -h -o %T 2>/dev/null || true)
    [ "$state" = "idle" ] && break
    sleep 0.5
done
[ "${state:-}" = "idle" ] || skip "slurmd did not come up (node state '${state:-none}'): $(tail -5 "$work/slurmd.log" "$work/slurmctld.log" 2>/dev/null)"
echo "slurm-test: Slurm $(sinfo -V) up on $host with $cpus CPUs" >&2

spec="$work/spec.toml"
printf 'min_viability = 0.5\nmin_cells_counted = 5\n' > "$spec"
analyze_args=("$repo/sample-images" --pixel-size 0.5 --meta batch=SLURM-1)
"$binary" analyze "${analyze_args[@]}" --spec "$spec" --quiet --out "$work/plain" || [ $? -eq 1 ]

ids=$(CELLVIA="$binary" deploy/slurm/submit.sh --shards 3 --cpus 1 --results "$work/results" \
    --merge-args "--spec $spec" -- "${analyze_args[@]}")
echo "slurm-test: submitted $ids" >&2
merge=${ids##* }
for _ in $(seq 600); do
    [ -z "$(squeue -h -j "$merge" 2>/dev/null)" ] && break
    sleep 0.5
done
[ -z "$(squeue -h -j "$merge" 2>/dev/null)" ] || { echo "slurm-test: FAILED: the jobs did not finish in 5 minutes" >&2; squeue >&2; exit 1; }

fail() {
    echo "slurm-test: FAILED: $*" >&2
    for log in "$work"/results/*.log "$work/slurmctld.log" "$work/slurmd.log"; do
        [ -f "$log" ] && { echo "== $log" >&2; tail -20 "$log" >&2; }
    done
    exit 1
}
merged="$work/results/merged"
[ -f "$merged/results.json" ] || fail "no merged results"
for k in 0 1 2; do [ -f "$work/results/shard-$k/shard.json" ] || fail "shard $k/3 missing"; done
for name in samples.csv images.csv cells.csv overlays/SHA256SUMS; do
    cmp -s "$work/plain/$name" "$merged/$name" || fail "$name differs from a plain run"
done
python3 - "$work/plain/results.json" "$merged/results.json" <<'PY' || fail "results.json (but run) differs from a plain run"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
a.pop("run"); b.pop("run")
sys.exit(a != b)
PY
"$binary" audit verify --outputs "$merged/run-log.jsonl" >/dev/null || fail "the merged run log does not verify"
grep -q '"merged":\[{"shard":"0/3"' "$merged/run-log.jsonl" || fail "the merge record does not name its shards"
echo "slurm-test: OK: 3 array tasks and the merge ran on Slurm; the merged outputs equal a plain run" >&2
