#!/usr/bin/env bash
# Train the grokking chapter's three recipes (grok-fp, grok-binary, grok-ternary) concurrently on
# one GPU: a packed run (`python -m interplib.train --jobs 3`), each recipe in its own process with
# a third of the CPU cores. Logs go to LOG_DIR (default: _build/train-logs).
#
#     tools/train_grokking_gpu.sh [LOG_DIR]
#
# RECIPES names other recipes, e.g. the ten-seed histories of the dynamics page (issue 22):
#
#     RECIPES="grok10-fp grok10-binary grok10-ternary" tools/train_grokking_gpu.sh
set -euo pipefail
read -r -a recipes <<< "${RECIPES:-grok-fp grok-binary grok-ternary}"
exec python3 -m interplib.train "${recipes[@]}" --device cuda --jobs 3 --force \
    --logs "${1:-_build/train-logs}"
