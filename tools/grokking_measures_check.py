"""Recompute a grokking artifact's logged measures from its stored weights and compare bit for bit.

    PYTHONPATH=. python tools/grokking_measures_check.py grok-binary grok-ternary

For each artifact it measures, with ``interplib.grokking.progress_measures`` and the
quantization measures (scales; the level flips need the previous snapshot, which is not
stored), two stacks the way ``fit`` measures them in chunks:

* the final weights of every seed, stacked eight times (one chunk of ``MEASURE_CHUNK``
  snapshots), against the last column of the stored history;
* the first seed's kept checkpoints as one stack, against the history at those epochs.

Runs on one CPU thread with the weights in training order, as the recipes measured them.
Equality is ``torch.equal``: the measuring code may change only in ways that leave these
numbers untouched. An artifact trained on another CPU family (``grok-fp`` was trained on an
AMD EPYC) can differ in the last bits whatever the code, since its float32 forward pass is
not bit-reproducible across CPUs. Exits 1 when any measure differs.
"""

from __future__ import annotations

import sys

import torch

from interplib import grokking as G
from interplib.grokking_study import RUNS
from interplib.recipes import load


def check(name: str) -> list[str]:
    """The measures of ``name`` that differ from the stored history (empty when all are identical)."""
    cfg, art = RUNS[name], load(name)
    order = [n for n, _ in G.GrokTransformer(cfg).named_parameters()]
    history = {k.removeprefix("history."): v for k, v in art.tensors.items() if k.startswith("history.")}
    freqs, epochs = art.metrics["key_freqs"], history["epoch"].tolist()
    differ = []
    with torch.no_grad():
        final = G._concat([{n: art.tensors[f"final.{n}"] for n in order}] * G.MEASURE_CHUNK)
        grid = G.measure_grid(cfg, freqs, torch.device("cpu"))
        got = {**G.progress_measures(cfg, final, grid), **G.quantization_measures(cfg, final, final)}
        want = {k: v[:, -1].repeat(G.MEASURE_CHUNK) for k, v in history.items() if k in got}
        differ += [f"final.{k}" for k in want if k != "flip_frac" and not torch.equal(got[k].double(), want[k].double())]

        kept = list(cfg.checkpoints)
        stack = {n: torch.cat([art.tensors[f"epoch{e}.{n}"] for e in kept]) for n in order}
        grid = G.measure_grid(cfg, [freqs[0]] * len(kept), torch.device("cpu"))
        got = {**G.progress_measures(cfg, stack, grid), **G.quantization_measures(cfg, stack, stack)}
        columns = [epochs.index(e) for e in kept]
        differ += [f"checkpoints.{k}" for k, v in got.items()
                   if k != "flip_frac" and not torch.equal(v.double(), history[k][0, columns].double())]
    return differ


def main(names: list[str]) -> int:
    torch.set_num_threads(1)
    failed = False
    for name in names or ["grok-binary", "grok-ternary"]:
        differ = check(name)
        failed |= bool(differ)
        print(f"{name}: " + ("every measure identical" if not differ else "differ: " + ", ".join(differ)))
    return int(failed)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
