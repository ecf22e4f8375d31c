"""interplib: the companion library of the book *Mechanistic interpretability, executed*.

Modules, one job each:

* ``artifacts``: verified safetensors + JSON files; ``recipes``: how each artifact is made;
  ``train``: the command line ``python -m interplib.train``;
* ``plotting``: ``imshow``, ``line``, ``scatter``, ``show``; ``book``: ``glue``, ``claim``, ``setup``;
* ``tables``: labelled top-k tables; ``markov``: the worked example of the first chapter;
* ``lexicon``, ``stories``, ``vocab``, ``lmdata``: the generated story corpus, its tokenizer and LM data;
* ``site``: the Sphinx extension that makes the built site render offline.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
