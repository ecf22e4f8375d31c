"""interplib: the companion library of the book *Mechanistic Interpretability, Executed*.

Modules, one job each:

* infrastructure: ``artifacts`` (verified safetensors + JSON files), ``recipes`` (how each
  artifact is made), ``train`` (the command line ``python -m interplib.train``), ``lm_training``
  (the one training loop of every language model), ``plotting``
  (``imshow``, ``line``, ``scatter``, ``show``), ``book`` (``glue``, ``claim``, ``setup``),
  ``tables`` (labelled top-k tables), ``site`` (the Sphinx extension for the offline site),
  ``links`` (the book's external links);
* the worked example: ``markov``;
* the story corpus: ``lexicon`` (words, inflections, the fact table), ``stories`` (the seeded
  grammar and its rules), ``vocab`` (the WordPiece tokenizer), ``lmdata`` (packed LM data, ground truth);
* bilinear bigrams: ``models`` (our bilinear transformer), ``bilinear`` (bigrams from its
  weights), ``tdooms`` (the original checkpoints' layout);
* grokking: ``fourier`` (basis mod p, progress measures), ``quantize`` (binary/ternary weights),
  ``grokking`` (the task and the one-layer model);
* LayerNorm attribution: ``attribution`` (the exact logit split, DLA, logit lens), ``bridge``
  (local Hugging Face directories as TransformerBridge), ``neox`` (a small Pythia-shaped model);
* attention circuits: ``attention_models`` (attention-only transformers as TransformerBridge,
  a torch twin, training), ``circuits`` (QK/OV terms, head scores, composition, paths, ablation).
* memorization: ``memorization`` (n-gram laws, capacity and accuracy bounds), ``memo_model``
  (the study's attention-only and rank-d models), ``batched`` (many small models trained at once),
  ``memo_study``, ``memo_cells``, ``memo_analysis`` (its recipes and analyses).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
