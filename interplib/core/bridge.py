"""Hugging Face models as ``TransformerBridge`` objects, offline, and trained ones as artifacts.

A reader with a network boots the real model in one line::

    bridge = TransformerBridge.boot_transformers("EleutherAI/pythia-70m-deduped", device="cpu")

The book makes the *same* call on a local directory that holds ``config.json``,
``model.safetensors`` and the tokenizer files (:func:`boot`), which it materialises from
a verified artifact (:func:`materialize`, :func:`boot_artifact`). An artifact of a Hugging
Face model is one safetensors file of the state dict (HF key names, float16 by default)
plus the HF ``config.json`` and tokenizer files as extra payloads (:func:`hf_payload`,
:func:`hf_trained` for a recipe's ``fit``, :func:`save_hf` outside recipes); JSON
payloads rather than sidecar fields, so a recipe's :class:`~interplib.core.recipes.Trained` can
carry them.

TransformerLens 4.3 gaps met here, and how this module fills them:

* ``boot_transformers`` on a path that does not exist treats it as a Hub id and retries
  the network for tens of seconds before failing; :func:`boot` checks a local directory first.
* ``boot_transformers(name, hf_model=...)`` still fetches a tokenizer from the Hub unless
  one is passed; :func:`boot` requires a tokenizer with an in-memory model. A passed
  tokenizer is re-read from its ``name_or_path`` (``KeyError: 'name_or_path'`` for one
  built in memory); :func:`boot` round-trips such a tokenizer through a temporary folder.
* Booting wraps the HF model's submodules in place (the HF object cannot be deep-copied
  or booted twice afterwards): build or load a fresh HF model per bridge.
* ``enable_compatibility_mode()`` processes weights in float32 even for a float64 model
  (``ProcessWeights`` upcasts "to float32"), so a float64 compatibility-mode bridge
  differs from the raw one by ~1e-9 relative; exact float64 checks use the raw bridge.

This module imports TransformerLens only inside :func:`boot`, so training code that saves
artifacts runs where TransformerLens is not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from interplib.core import artifacts, paths
from interplib.core.recipes import Trained
from interplib.core.training import CURVE

__all__ = [
    "word_level_tokenizer",
    "hf_payload",
    "hf_trained",
    "save_hf",
    "materialize",
    "boot",
    "boot_artifact",
]

HF_FILES = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)


def word_level_tokenizer(
    words: list[str], unk: str = "<unk>", eos: str = "<|endoftext|>"
):
    """A whitespace-split, word-level ``PreTrainedTokenizerFast``: id ``i`` is ``words[i]``.

    ``eos`` and ``unk`` are added at the front if missing. Built offline from the
    ``tokenizers`` library; it saves to a ``tokenizer.json`` that ``AutoTokenizer`` reloads.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab_list = [w for w in (eos, unk) if w not in words] + list(words)
    if len(set(vocab_list)) != len(vocab_list):
        raise ValueError(
            "the word list has duplicates; a vocabulary needs each word once"
        )
    tok = Tokenizer(
        models.WordLevel(vocab={w: i for i, w in enumerate(vocab_list)}, unk_token=unk)
    )
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(
        prefix="##", cleanup=False
    )  # joins words with single spaces
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token=eos, bos_token=eos, unk_token=unk
    )


def _tokenizer_files(tokenizer) -> dict[str, bytes]:
    from transformers import PreTrainedTokenizerFast

    if not isinstance(tokenizer, PreTrainedTokenizerFast):
        from tokenizers import Tokenizer

        if isinstance(tokenizer, Tokenizer):
            tokenizer = PreTrainedTokenizerFast(tokenizer_object=tokenizer)
        else:
            raise TypeError(
                f"tokenizer is a {type(tokenizer).__name__}; pass a PreTrainedTokenizerFast "
                f"or a tokenizers.Tokenizer (a fast tokenizer saves to one tokenizer.json)"
            )
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer.save_pretrained(tmp)
        return {
            name: (Path(tmp) / name).read_bytes()
            for name in HF_FILES
            if (Path(tmp) / name).exists()
        }


def hf_payload(
    model, tokenizer, dtype: torch.dtype | None = torch.float16
) -> tuple[dict[str, torch.Tensor], dict[str, bytes]]:
    """``(tensors, files)`` of a Hugging Face model and tokenizer, ready for ``artifacts.save``.

    Tensors are the state dict under HF names, floating ones cast to ``dtype`` (None keeps
    them); files are ``config.json`` and the tokenizer's JSON files.
    """
    tensors = {}
    for key, value in model.state_dict().items():
        value = value.detach().cpu()
        if dtype is not None and value.is_floating_point():
            value = value.to(dtype)
        tensors[key] = (
            value.clone().contiguous()
        )  # tied weights share storage; safetensors refuses that
    config = json.loads(model.config.to_json_string(use_diff=False))
    files = {
        "config.json": (json.dumps(config, indent=1, sort_keys=True) + "\n").encode()
    }
    files.update(_tokenizer_files(tokenizer))
    return tensors, files


def hf_trained(
    model,
    tokenizer,
    metrics: dict[str, Any],
    key_metric: tuple[str, float],
    dtype: torch.dtype | None = torch.float16,
) -> Trained:
    """A recipe's ``fit`` result for a trained HF model.

    In a recipe: ``return hf_trained(model, tok, metrics, ("val_loss", v))``.
    """
    tensors, files = hf_payload(model, tokenizer, dtype)
    return Trained(tensors=tensors, metrics=metrics, key_metric=key_metric, files=files)


def save_hf(
    study: str,
    name: str,
    model,
    tokenizer,
    meta: dict[str, Any] | None = None,
    dtype: torch.dtype | None = torch.float16,
    base: Path | None = None,
) -> Path:
    """Save an HF model as artifact ``name`` outside the recipe registry; returns the sidecar path.

    ``meta`` may hold ``config`` (defaults to the HF config dict) and ``metrics`` (default ``{}``).
    """
    tensors, files = hf_payload(model, tokenizer, dtype)
    meta = dict(meta or {})
    meta.setdefault("config", json.loads(files["config.json"]))
    meta.setdefault("metrics", {})
    return artifacts.save(study, name, tensors, meta, files, base)


def materialize(
    artifact: artifacts.Artifact,
    directory: str | Path | None = None,
    dtype: torch.dtype = torch.float32,
) -> Path:
    """Write an HF-model artifact out as a local directory that ``boot_transformers`` loads.

    The weights are cast to ``dtype`` (float16 storage is widened once here; the analysis
    then runs on exactly these weights). The default directory is
    ``.cache/hf/<name>-<sha12>-<dtype>`` of this checkout, reused when already complete.

    Raises:
        ValueError: if the artifact has no ``config.json`` payload (it is not an HF model).
    """
    if "config.json" not in artifact.files:
        raise ValueError(
            f"artifact {artifact.name!r} has no config.json payload, so it is not a Hugging Face "
            f"model; save models with interplib.core.bridge.hf_trained / save_hf"
        )
    sha = artifact.meta["files"]["safetensors"]["sha256"][:12]
    dtype_name = str(dtype).removeprefix("torch.")
    target = (
        Path(directory)
        if directory
        else paths.cache_root() / "hf" / f"{artifact.name}-{sha}-{dtype_name}"
    )
    stamp = target / ".interplib-source"
    if stamp.exists() and stamp.read_text() == sha:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        tensors = {
            k: (v.to(dtype) if v.is_floating_point() else v).contiguous()
            for k, v in artifact.tensors.items()
            if not k.startswith(CURVE)
        }  # training curves stay behind
        save_file(tensors, tmp / "model.safetensors", metadata={"format": "pt"})
        config = json.loads(artifact.files["config.json"])
        config["dtype"] = dtype_name
        config.pop("torch_dtype", None)
        (tmp / "config.json").write_text(
            json.dumps(config, indent=1, sort_keys=True) + "\n"
        )
        for name, data in artifact.files.items():
            if name != "config.json" and name in HF_FILES:
                (tmp / name).write_bytes(data)
        (tmp / ".interplib-source").write_text(sha)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _reloadable(tokenizer, folder: str):
    """``tokenizer`` as loaded from ``folder``: TL 4.3 re-reads a passed tokenizer from its
    ``name_or_path`` (with ``add_bos_token=True``), which one built in memory does not have."""
    if tokenizer.init_kwargs.get("name_or_path"):
        return tokenizer
    from transformers import AutoTokenizer

    tokenizer.save_pretrained(folder)
    return AutoTokenizer.from_pretrained(folder)


def boot(
    source: str | Path,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    compatibility: bool = False,
    hf_model=None,
    tokenizer=None,
    **compat_kwargs,
):
    """``TransformerBridge.boot_transformers(source, ...)`` in eval mode, offline-safe.

    Args:
        source: a local HF directory (checked for ``config.json`` and weights), a Hub id
            (needs a network, as for a reader), or a label when ``hf_model`` is given.
        dtype: the bridge's dtype (float64 for exact checks).
        compatibility: call ``enable_compatibility_mode()`` (fold LayerNorm, centre writing
            weights and unembedding, fold value biases); ``compat_kwargs`` go to it.
        hf_model, tokenizer: boot an in-memory HF model; a tokenizer is then required.

    Raises:
        FileNotFoundError: a local directory without ``config.json`` or weights.
        ValueError: ``hf_model`` without ``tokenizer``.
    """
    from transformer_lens.model_bridge import TransformerBridge

    kwargs: dict[str, Any] = {"device": device, "dtype": dtype}
    if hf_model is not None:
        if tokenizer is None:
            raise ValueError(
                "boot(hf_model=...) needs tokenizer=... too: without one TransformerLens fetches a "
                "tokenizer from the Hub, which fails offline"
            )
        kwargs.update(hf_model=hf_model.to(dtype).eval())
    path = Path(source)
    looks_local = path.is_absolute() or str(source).startswith(".") or path.exists()
    if hf_model is None and looks_local:
        if not (path / "config.json").exists():
            raise FileNotFoundError(
                f"{path} has no config.json, so it is not a Hugging Face model directory; "
                f"materialize an artifact with interplib.core.bridge.materialize(artifact) or save "
                f"a model with model.save_pretrained(dir)"
            )
        if not any(path.glob("*.safetensors")) and not any(path.glob("*.bin")):
            raise FileNotFoundError(
                f"{path} has a config.json but no weights (*.safetensors); save them with "
                f"model.save_pretrained({str(path)!r})"
            )
        source = str(path)
    with tempfile.TemporaryDirectory() as tmp:
        if tokenizer is not None:
            kwargs["tokenizer"] = _reloadable(tokenizer, tmp)
        bridge = TransformerBridge.boot_transformers(str(source), **kwargs)
    bridge.eval()
    if compatibility:
        compat_kwargs.setdefault("disable_warnings", True)
        bridge.enable_compatibility_mode(**compat_kwargs)
    return bridge


def boot_artifact(
    artifact: str | artifacts.Artifact,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    compatibility: bool = False,
    **compat_kwargs,
):
    """Load (and verify) an HF-model artifact, materialise it, and boot it as a bridge."""
    art = artifacts.load(artifact) if isinstance(artifact, str) else artifact
    return boot(
        materialize(art, dtype=dtype),
        device=device,
        dtype=dtype,
        compatibility=compatibility,
        **compat_kwargs,
    )
