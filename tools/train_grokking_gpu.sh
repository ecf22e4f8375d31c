#!/usr/bin/env bash
# Train the grokking chapter's three recipes (grok-fp, grok-binary, grok-ternary) concurrently
# on one GPU, each process with its share of the CPU cores (three processes at PyTorch's default
# of one thread per core oversubscribe the host). Logs go to LOG_DIR (default: the current folder).
#
#     tools/train_grokking_gpu.sh [LOG_DIR]
set -euo pipefail
logs=${1:-.}
threads=$(( $(nproc) / 3 > 0 ? $(nproc) / 3 : 1 ))
pids=()
for variant in fp binary ternary; do
    OMP_NUM_THREADS=$threads python3 -m interplib.train "grok-$variant" --device cuda --force \
        >"$logs/grok-$variant.log" 2>&1 &
    pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
