#!/usr/bin/env bash
# Mutation fuzzing of `cellvia analyze` (issue 13).
#
# usage: scripts/fuzz.sh [SECONDS=300] [BATCH=500] [THREADS=all]
#
# Mutates the sample images (scripts/mutate.py: bit flips, truncations,
# chunk splices, header edits), analyses them BATCH at a time, and treats a
# batch as lost when analyze exits with anything but 0 or 1 (a panic
# escaping a field, a fatal error) or runs past a minute, and notes a panic
# caught inside a field (an "internal error" record: a bug, though the
# batch survives). Such a batch is re-run file by file; each file that
# crashes, hangs or panics alone is kept in fuzz-findings/. Copy a finding into tests/fuzz-corpus/ (named by its
# SHA-256) to keep it as a regression test run by `cargo test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
budget=${1:-300}
batch=${2:-500}
threads=${3:-$(nproc)}
cargo build --release --quiet
bin=target/release/cellvia
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p fuzz-findings
deadline=$((SECONDS + budget))
round=0 total=0 lost=0 panicked=0 kept=0
# bad FILES...: says why analysing FILES goes wrong (empty when it does not)
bad() {
    rm -rf "$work/out"
    local code=0
    timeout 60 "$bin" analyze "$@" --out "$work/out" --quiet --threads "$threads" \
        --overlays never --no-html --diameter 8,40 >/dev/null 2>"$work/stderr" || code=$?
    if [ "$code" -gt 1 ]; then
        echo "exit $code: $(tail -n 1 "$work/stderr")"
    elif grep -q '"error": *"[^"]*internal error' "$work/out/results.json" 2>/dev/null; then
        echo "a panic caught inside a field"
    fi
}
while [ "$SECONDS" -lt "$deadline" ]; do
    round=$((round + 1))
    rm -rf "$work/in"
    python3 scripts/mutate.py sample-images "$work/in" "$batch" "$round"
    total=$((total + batch))
    why=$(bad "$work/in")
    [ -z "$why" ] && continue
    case "$why" in exit*) lost=$((lost + 1)) ;; *) panicked=$((panicked + 1)) ;; esac
    echo "fuzz: round $round: $why" >&2
    for f in "$work"/in/*; do
        why=$(bad "$f")
        if [ -n "$why" ]; then
            name=$(sha256sum "$f" | cut -c1-16).${f##*.}
            cp "$f" "fuzz-findings/$name"
            kept=$((kept + 1))
            echo "fuzz: kept fuzz-findings/$name ($why)" >&2
        fi
    done
done
echo "fuzz: $total mutated inputs in $round batches of $batch: $lost batches lost, $panicked with a caught panic, $kept inputs kept in fuzz-findings/"
[ "$lost" -eq 0 ] && [ "$panicked" -eq 0 ]
