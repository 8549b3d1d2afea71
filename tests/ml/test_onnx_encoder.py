"""OnnxEncoder: the same vectors as TransformerEncoder, from an ONNX graph exported once.

Uses the tiny random BERT from ``tests/tiny_models.py``; the export goes to a temp folder.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from llmrec_django.ml.encoders import TransformerEncoder  # noqa: E402
from llmrec_django.ml.encoders.onnx import FLOAT_FILE, INT8_FILE, OnnxEncoder, export_key  # noqa: E402
from llmrec_django.ml.encoders.projection import write_projection  # noqa: E402

TEXTS = [
    "Tea",
    "Lightweight trail running shoes with a grippy rubber sole and a breathable mesh upper.",
    "推荐给我一些好看的电影",
    "Mixed text: 科幻 sci-fi movie 电影 and 跑鞋 running shoes.",
    "",
    "Tea",
    "a cosy science fiction film about a crew lost in deep space " * 20,  # truncated
]


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx-exports")


def test_onnx_vectors_match_the_torch_encoder_and_the_export_is_made_once(tiny_encoder_dir, export_dir):
    reference = TransformerEncoder(path=str(tiny_encoder_dir), batch_size=3, device="cpu").encode(TEXTS)
    encoder = OnnxEncoder(path=str(tiny_encoder_dir), batch_size=3, export_dir=export_dir)
    assert not encoder.loaded

    vectors = encoder.encode(TEXTS)

    assert vectors.shape == reference.shape and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, reference, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(vectors[0], vectors[5])
    exported = export_dir / export_key(tiny_encoder_dir) / FLOAT_FILE
    assert encoder.onnx_file == exported and exported.is_file()

    # A second encoder (another process, a restart) reuses the file instead of exporting again.
    stamp = exported.stat().st_mtime_ns
    again = OnnxEncoder(path=str(tiny_encoder_dir), export_dir=export_dir).encode(TEXTS)
    assert exported.stat().st_mtime_ns == stamp
    np.testing.assert_allclose(again, vectors, atol=1e-6)
    # Batching (padding to each batch's longest text) does not change a vector.
    np.testing.assert_allclose(encoder.encode(TEXTS, batch_size=1), vectors, atol=1e-5)


def test_int8_vectors_stay_close_to_the_float_ones(tiny_encoder_dir, export_dir):
    floats = OnnxEncoder(path=str(tiny_encoder_dir), export_dir=export_dir).encode(TEXTS)
    encoder = OnnxEncoder(path=str(tiny_encoder_dir), export_dir=export_dir, quantize=True)

    vectors = encoder.encode(TEXTS)

    assert encoder.onnx_file.name == INT8_FILE and encoder.onnx_file.is_file()
    cosine = (vectors * floats).sum(axis=1)
    assert cosine.min() > 0.9, cosine
    assert not np.allclose(vectors, floats, atol=1e-6)  # it really is the quantised graph


def test_a_trained_projection_is_applied_as_by_the_torch_encoder(tiny_encoder_dir, tmp_path):
    import shutil

    import torch

    model = tmp_path / "projected"
    shutil.copytree(tiny_encoder_dir, model)
    dimension = TransformerEncoder(path=str(model)).dimension
    generator = torch.Generator().manual_seed(0)
    write_projection(model, torch.randn(dimension, dimension, generator=generator), torch.randn(dimension))

    reference = TransformerEncoder(path=str(model), device="cpu").encode(TEXTS)
    vectors = OnnxEncoder(path=str(model), export_dir=tmp_path / "exports").encode(TEXTS)

    np.testing.assert_allclose(vectors, reference, atol=1e-5)


def test_empty_input_needs_no_model_and_bad_options_are_refused(tiny_encoder_dir, tmp_path):
    encoder = OnnxEncoder(path=str(tiny_encoder_dir), export_dir=tmp_path)
    assert encoder.encode([]).shape == (0, encoder.dimension)
    assert not encoder.loaded and not any(tmp_path.iterdir())

    with pytest.raises(TypeError, match="'bogus'"):
        OnnxEncoder(path=str(tiny_encoder_dir), bogus=1)
    with pytest.raises(ValueError, match="CPU"):
        OnnxEncoder(path=str(tiny_encoder_dir), device="cuda")
    with pytest.raises(FileNotFoundError):
        OnnxEncoder(path=str(tmp_path / "missing"))
    with pytest.raises(TypeError, match="single string"):
        encoder.encode("Tea")
