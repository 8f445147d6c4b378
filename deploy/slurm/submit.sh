#!/bin/bash
# Submits a cellvia batch to Slurm: an array of N shard tasks and a merge
# that runs once they all succeeded. Prints the two job ids.
#
#   deploy/slurm/submit.sh --shards N --results DIR [--cpus C] [--merge-args "..."] -- ANALYZE_ARGS...
#
# ANALYZE_ARGS are cellvia analyze's inputs and settings, e.g.
#   -- --manifest /data/campaign/manifest.csv --pixel-size 0.65
# RESULTS must be on a filesystem every node sees. CELLVIA (the binary) and
# SBATCH_* variables pass through to the jobs.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
shards="" results="" cpus=4 merge_args=""
while [ $# -gt 0 ]; do
    case "$1" in
        --shards) shards=$2; shift 2 ;;
        --results) results=$2; shift 2 ;;
        --cpus) cpus=$2; shift 2 ;;
        --merge-args) merge_args=$2; shift 2 ;;
        --) shift; break ;;
        *) echo "submit.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ -n "$shards" ] && [ -n "$results" ] || { echo "submit.sh: --shards N and --results DIR are required" >&2; exit 2; }
mkdir -p "$results"
results=$(cd "$results" && pwd)
array=$(RESULTS="$results" sbatch --parsable --export=ALL,RESULTS="$results" \
    --array="0-$((shards - 1))" --cpus-per-task="$cpus" --chdir="$results" \
    "$here/cellvia-shard.sbatch" "$@")
array=${array%%;*}
# shellcheck disable=SC2086 # merge_args is a list of words
merge=$(sbatch --parsable --export=ALL,RESULTS="$results" --dependency="afterok:$array" \
    --kill-on-invalid-dep=yes --chdir="$results" "$here/cellvia-merge.sbatch" $merge_args)
merge=${merge%%;*}
echo "array $array merge $merge"
