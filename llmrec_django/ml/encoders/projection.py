"""A trained linear map on top of a sentence encoder's pooled vectors.

Fine-tuning every layer of a transformer is GPU work: on two CPU cores one epoch over 50,000
pairs of all-MiniLM-L6-v2 takes about 45 minutes. Training only a square linear map applied to
the pooled (mean) vector before normalisation, the transformer frozen, costs one forward pass
per distinct text (cached) and then seconds per epoch, so a site without a GPU can still teach
the encoder its own behaviour (``TRAINING["ENCODER"]["trainable"] = "projection"``).

The map is saved beside the model's weights (``PROJECTION_FILE``: ``weight`` d x d and ``bias``
d, float32, safetensors) and whoever serves the model applies it: ``TransformerEncoder`` computes
``normalize(weight @ mean + bias)``. A model without the file is served as it always was.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

PROJECTION_FILE = "llmrec_projection.safetensors"
# What an encoder run trains (TRAINING["ENCODER"]["trainable"]): every weight, or this map alone.
TRAINABLE = ("all", "projection")


def projection_path(model_path: str | Path | None) -> Path | None:
    if not model_path:
        return None
    path = Path(model_path) / PROJECTION_FILE
    return path if path.is_file() else None


def read_projection(model_path: str | Path | None):
    """``(weight, bias)`` as float32 torch tensors saved with the model at ``model_path``, or
    None. A file that is not a square map raises ``ValueError`` naming it."""
    path = projection_path(model_path)
    if path is None:
        return None
    stat = os.stat(path)
    weight, bias = _read(str(path), (stat.st_mtime_ns, stat.st_size))
    return weight.clone(), bias.clone()


@lru_cache(maxsize=8)
def _read(path: str, _stamp: tuple[int, int]):
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        tensors = load_file(path)
    except (OSError, SafetensorError) as exc:
        raise ValueError(f"Cannot read the encoder projection {path}: {exc}") from exc
    weight, bias = tensors.get("weight"), tensors.get("bias")
    if weight is None or bias is None or weight.ndim != 2 or weight.shape[0] != weight.shape[1]:
        raise ValueError(f"The encoder projection {path} must hold a square 'weight' and a 'bias'.")
    if bias.shape != (weight.shape[0],):
        raise ValueError(f"The encoder projection {path}: 'bias' must have {weight.shape[0]} values.")
    return weight.float(), bias.float()


def write_projection(directory: str | Path, weight, bias) -> Path:
    from safetensors.torch import save_file

    path = Path(directory) / PROJECTION_FILE
    save_file(
        {"weight": weight.detach().float().cpu().contiguous(), "bias": bias.detach().float().cpu().contiguous()},
        str(path),
    )
    return path
