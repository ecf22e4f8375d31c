"""interplib: the companion library of the book *Mechanistic Interpretability, Executed*.

The tree is the architecture; each subpackage is a layer, and a test reads the imports to
keep it so (``core`` and ``corpus`` import no study and no analysis; ``interp`` imports no
study; a study imports no other study):

* :mod:`interplib.core`: what every study stands on: ``artifacts`` (verified safetensors +
  JSON sidecars), ``recipes`` (the registry: how each artifact is made and loaded, found in
  the studies), ``cli`` (``python -m interplib.train``), ``training`` (the one loop of every
  language model), ``batched`` (many small models trained as one stack), ``hooks``
  (TransformerLens hook points), ``checks`` (one validator per kind of input), ``bridge``
  (local Hugging Face directories as ``TransformerBridge``), ``paths`` (where the book's
  files are);
* :mod:`interplib.interp`: tools for any model: ``attribution`` (the exact logit split
  through LayerNorm), ``lens`` (logit lens, TransformerLens's own terms, next-token
  tables), ``circuits`` (LN-folded QK/OV weights, score terms, copying, composition),
  ``paths`` (path expansion, virtual heads), ``ablation`` (zero and mean head ablation),
  ``patterns`` (previous-token and induction stripes and scores), ``fourier`` (the Fourier
  basis mod p, key frequencies, restricted/excluded losses), ``clockpizza`` (Clock vs
  Pizza diagnostics), ``bilinear`` (bigrams from a bilinear layer's weights);
* :mod:`interplib.corpus`: the story corpus: ``lexicon``, ``grammar`` (the story
  generator), ``rules`` (the rules it keeps, their checks, measurements on texts),
  ``tokenizer``, ``lmdata`` (packed LM data and its ground truth), ``recipes``;
* :mod:`interplib.book`: what the pages use: ``cells`` (``glue``, ``claim``), ``plotting``,
  ``tables``, ``status``, ``site`` (the Sphinx extension), ``links``;
* :mod:`interplib.studies`: one package per study, each with ``model``, ``recipes`` and
  ``analysis`` modules plus what only it needs: ``markov`` (the worked example),
  ``bilinear``, ``grokking``, ``memorization``, ``circuits``, ``layernorm``.
"""

__version__ = "0.2.0.dev0"

__all__ = ["__version__"]
