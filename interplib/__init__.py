"""interplib: the companion library of the book *Mechanistic interpretability, executed*.

Modules, one job each:

* ``artifacts``: verified safetensors + JSON files; ``recipes``: how each artifact is made;
  ``train``: the command line ``python -m interplib.train``;
* ``plotting``: ``imshow``, ``line``, ``scatter``, ``show``; ``book``: ``glue``, ``claim``, ``setup``;
* ``tables``: labelled top-k tables; ``markov``: the worked example of the first chapter;
* ``memorization``, ``attention_only``, ``batched``, ``memo_study``, ``memo_cells``, ``memo_analysis``:
  n-gram laws, the attention-only model and batched training of the memorization study;
* ``site``: the Sphinx extension that makes the built site render offline.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
