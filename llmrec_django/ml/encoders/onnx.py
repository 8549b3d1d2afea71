"""The transformer encoder served by ONNX Runtime instead of torch, optionally int8-quantised.

Same model, same recipe, same contract as ``TransformerEncoder`` (masked mean of the last hidden
states, the trained projection if there is one, L2 normalisation; texts de-duplicated, sorted by
length and batched); only the forward pass runs in an ``onnxruntime.InferenceSession`` on CPU.
Choose it by dotted path::

    LLMREC["ENCODER"] = {
        "BACKEND": "llmrec_django.ml.encoders.onnx.OnnxEncoder",
        "OPTIONS": {"quantize": True},   # path, max_length, batch_size as for TransformerEncoder
    }

Where the ONNX graph comes from (nothing is ever downloaded):

- a model folder that already holds one (``onnx/model.onnx``, the sentence-transformers layout,
  or ``model.onnx``) is used as it is;
- otherwise the weights are exported once with torch's own exporter (``torch.onnx.export``,
  ``dynamo=True``: the TorchScript exporter silently bakes transformers 5's attention-mask code
  into constants, giving wrong vectors for padded batches) into ``export_dir`` (default
  ``$LLMREC_HOME/onnx``, else the per-user cache ``llmrec-django/onnx``), in a folder named by a
  hash of the model path, its config and the size and time of its weight files, so a retrained
  model gets a fresh export and every later process just loads the file;
- ``quantize=True`` then writes an int8 copy beside it with ONNX Runtime's dynamic quantisation
  (``onnxruntime.quantization.quantize_dynamic``: int8 weights with one scale per output channel,
  activations quantised on the fly; the same routine optimum's ``ORTQuantizer`` calls). On
  all-MiniLM-L6-v2 the mean cosine to the float vectors is ~0.99 (torch's own dynamic
  quantisation: ~0.97) and it is the fastest CPU path measured, but only ~83 % of each item's
  10 nearest neighbours stay the same (bench/RESULTS.md): a re-ranking, not a free speed-up.

Exporting needs torch, onnx and onnxscript; serving needs only onnxruntime and the tokenizer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from llmrec_django.ml.encoders.transformer import _NO_LIMIT, TransformerEncoder

logger = logging.getLogger(__name__)

# Bumped when the export recipe changes, so old exports are not reused.
EXPORT_VERSION = 1
FLOAT_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json")
_OPTIONS = ("path", "max_length", "batch_size", "device", "quantize", "export_dir")


def default_export_dir() -> Path:
    """``$LLMREC_HOME/onnx``, else the per-user cache directory's ``onnx`` folder.

    (This layer cannot read ``LLMREC["HOME"]``; a site that sets only that setting passes
    ``export_dir`` explicitly.)"""
    home = os.environ.get("LLMREC_HOME")
    if home:
        return Path(home).expanduser() / "onnx"
    import platformdirs

    return Path(platformdirs.user_cache_dir("llmrec-django")) / "onnx"


def existing_onnx_file(model_path: str | Path) -> Path | None:
    """An ONNX graph shipped inside the model folder, if any."""
    for candidate in (Path(model_path) / "onnx" / FLOAT_FILE, Path(model_path) / FLOAT_FILE):
        if candidate.is_file():
            return candidate
    return None


def export_key(model_path: str | Path) -> str:
    """Names the export of the model at ``model_path``: changes when its config or weights do."""
    import torch

    folder = Path(model_path).resolve()
    digest = hashlib.sha256()
    digest.update(f"v{EXPORT_VERSION} torch {torch.__version__} {folder}".encode())
    digest.update((folder / "config.json").read_bytes())
    for name in _WEIGHT_FILES:
        weights = folder / name
        if weights.is_file():
            stat = weights.stat()
            digest.update(f"{name} {stat.st_size} {stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def export_onnx(model_path: str | Path, destination: Path) -> Path:
    """Export the transformer at ``model_path`` to ``destination`` (an ONNX file with dynamic
    batch and sequence axes; input names as the tokenizer's, output ``last_hidden_state``).

    Written to a temporary folder beside ``destination`` and moved into place, so a reader never
    sees half a file and two processes exporting at once both end with a whole one."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_path), local_files_only=True).eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]

    # A batch with padding, so the traced graph keeps the attention-mask path.
    input_ids = torch.ones((2, 8), dtype=torch.long)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 5:] = 0
    names = ["input_ids", "attention_mask", "token_type_ids"]
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination.parent, prefix=".export-") as scratch:
        scratch_file = Path(scratch) / destination.name
        with warnings.catch_warnings():  # the exporter's notes on axis names and deprecations
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                LastHiddenState(model),
                (input_ids, attention_mask, torch.zeros_like(input_ids)),
                str(scratch_file),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_shapes={name: {0: batch, 1: sequence} for name in names},
                dynamo=True,
                external_data=False,
                verbose=False,
            )
        os.replace(scratch_file, destination)
    return destination


def quantize_onnx(source: Path, destination: Path) -> Path:
    """Dynamic int8 quantisation of ``source`` (per-channel weight scales) into ``destination``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(dir=destination.parent, prefix=".quantize-") as scratch:
        scratch_file = Path(scratch) / destination.name
        quantize_dynamic(str(source), str(scratch_file), per_channel=True, weight_type=QuantType.QInt8)
        os.replace(scratch_file, destination)
    return destination


class OnnxEncoder(TransformerEncoder):
    """``TransformerEncoder`` with the forward pass in ONNX Runtime (CPU).

    Options as ``TransformerEncoder`` (``path``, ``max_length``, ``batch_size``, ``quantize``;
    ``device`` must be ``"auto"`` or ``"cpu"``) plus ``export_dir``: where exports are kept
    (default ``$LLMREC_HOME/onnx``). ``quantize=True`` serves the int8 graph.
    """

    def __init__(self, *args: Any, export_dir: str | Path | None = None, **options: Any):
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise TypeError(
                f"Unknown OnnxEncoder option(s) {', '.join(map(repr, unknown))}; "
                f"LLMREC['ENCODER']['OPTIONS'] accepts: {', '.join(_OPTIONS)}."
            )
        super().__init__(*args, **options)
        if self.device not in ("auto", "cpu"):
            raise ValueError(f"OnnxEncoder runs on the CPU; device must be 'auto' or 'cpu', not {self.device!r}.")
        self.export_dir = Path(export_dir).expanduser() if export_dir is not None else default_export_dir()
        self.onnx_file: Path | None = None
        self._input_names: list[str] = []

    def onnx_model_file(self) -> Path:
        """The ONNX file this encoder serves, exporting (and quantising) it first if needed."""
        source = existing_onnx_file(self.model_path)
        if source is None or self.quantize:
            folder = self.export_dir / export_key(self.model_path)
        if source is None:
            source = folder / FLOAT_FILE
            if not source.is_file():
                started = time.perf_counter()
                export_onnx(self.model_path, source)
                logger.info(
                    "Exported %s to ONNX at %s in %.1fs.", self.model_path, source, time.perf_counter() - started
                )
        if not self.quantize:
            return source
        # Beside the export, never inside the model folder (which may be read-only).
        quantized = folder / INT8_FILE
        if not quantized.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            quantize_onnx(source, quantized)
        return quantized

    def _load(self) -> None:
        import onnxruntime
        from transformers import AutoTokenizer

        started = time.perf_counter()
        tokenizer = AutoTokenizer.from_pretrained(self.model_path, local_files_only=True)
        onnx_file = self.onnx_model_file()
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = onnxruntime.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])

        projection = self.checked_projection()
        if projection is not None:
            projection = tuple(t.numpy() for t in projection)

        limits = [self.max_length]
        if 0 < getattr(tokenizer, "model_max_length", _NO_LIMIT) < _NO_LIMIT:
            limits.append(int(tokenizer.model_max_length))
        config = json.loads((Path(self.model_path) / "config.json").read_text())
        if config.get("max_position_embeddings"):
            limits.append(int(config["max_position_embeddings"]))
        self._effective_max_length = min(limits)

        self._input_names = [i.name for i in session.get_inputs()]
        self._tokenizer = tokenizer
        self._torch_device = "cpu"
        self._projection = projection
        self.onnx_file = onnx_file
        self._model = session
        logger.info(
            "Loaded encoder %s from %s in ONNX Runtime (%s) in %.1fs.",
            self.model_name,
            onnx_file,
            "int8" if self.quantize else "float32",
            time.perf_counter() - started,
        )

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        with self._batch_lock:
            batch = self._tokenizer(
                texts, padding=True, truncation=True, max_length=self._effective_max_length, return_tensors="np"
            )
            mask = batch["attention_mask"].astype(np.int64)
            feed = {}
            for name in self._input_names:
                value = batch.get(name)
                feed[name] = np.zeros_like(mask) if value is None else value.astype(np.int64)
            hidden = self._model.run(None, feed)[0].astype(np.float32, copy=False)
        # Masked mean: padding positions must not count (see TransformerEncoder).
        weights = mask[..., None].astype(np.float32)
        mean = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        if self._projection is not None:
            weight, bias = self._projection
            mean = mean @ weight.T + bias
        norms = np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)
        return (mean / norms).astype(np.float32, copy=False)

    def __repr__(self) -> str:
        return (
            f"<OnnxEncoder {self.model_name!r} dim={self.dimension} max_length={self.max_length} "
            f"quantize={self.quantize} loaded={self.loaded}>"
        )
