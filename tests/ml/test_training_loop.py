"""The shared training loop: loss goes down, accumulation, early stopping, checkpoints, seeds,
data parallelism under torchrun (gloo, CPU), bf16 autocast on CPU, and mixed precision on CUDA
(GPU machines only)."""

import functools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from llmrec_django.ml.training.loop import LoopConfig, fit, resolve_precision
from llmrec_django.ml.training.modules import (
    BiEncoder,
    CatalogueNegatives,
    CrossEncoder,
    bce_loss,
    bce_validation,
    collate_labelled,
    collate_pairs,
    info_nce_loss,
    info_nce_validation,
)
from tests.tiny_models import CORPUS

ROOT = Path(__file__).resolve().parents[2]
PAIRS = [(CORPUS[i], CORPUS[(i + 1) % len(CORPUS)], [CORPUS[(i + 5) % len(CORPUS)]]) for i in range(len(CORPUS))]
VALID = [(a, b) for a, b, _ in PAIRS[:8]]


def _fit_encoder(model_dir, config, model=None, **kwargs):
    model = model or BiEncoder(model_dir, max_length=32)
    result = fit(
        model,
        PAIRS,
        functools.partial(collate_pairs, model),
        info_nce_loss,
        lambda module: info_nce_validation(module, VALID, 4, 0.05),
        config,
        **kwargs,
    )
    return model, result


def test_the_encoder_loss_goes_down_and_the_best_epoch_is_checkpointed(tiny_encoder_dir, tmp_path):
    saved = []

    def checkpoint(module, epoch):
        module.save(tmp_path / f"epoch{epoch}")
        saved.append(epoch)

    config = LoopConfig(epochs=4, batch_size=8, learning_rate=2e-3, device="cpu", patience=10)
    _, result = _fit_encoder(tiny_encoder_dir, config, checkpoint=checkpoint)
    losses = [e.train_loss for e in result.epochs]
    assert losses[-1] < losses[0]
    assert result.device == "cpu" and result.precision == "fp32" and result.world_size == 1
    assert saved == [e.epoch for e in result.epochs if e.best] and saved[0] == 1
    assert (tmp_path / f"epoch{saved[-1]}" / "config.json").is_file()
    assert result.steps == 4 * 4  # 27 pairs / 8 per batch = 4 steps per epoch


def test_catalogue_negatives_add_every_item_but_the_masked_ones_and_are_refreshed(tiny_encoder_dir):
    model = BiEncoder(tiny_encoder_dir, max_length=32)
    catalogue = CatalogueNegatives(CORPUS, refresh_every=2)
    examples = [(CORPUS[0], CORPUS[1], [], (1, 4)), (CORPUS[2], CORPUS[3], [], (3,))]
    batch = collate_pairs(model, examples)
    assert batch["masked"].tolist() == [[0, 0, 1], [1, 4, 3]]
    model.eval()
    with torch.no_grad():
        loss = info_nce_loss(model, batch, temperature=0.05, catalogue=catalogue)
        vectors = model(**batch["inputs"])
    anchors, positives = vectors[:2], vectors[2:]
    # By hand: each anchor over the two positives, then every catalogue item but its masked ones.
    extra = anchors @ catalogue.vectors.T
    extra[0, [1, 4]] = float("-inf")
    extra[1, 3] = float("-inf")
    logits = torch.cat([anchors @ positives.T, extra], dim=1) / 0.05
    expected = torch.nn.functional.cross_entropy(logits, torch.arange(2))
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)
    with torch.no_grad():
        assert float(loss) > float(info_nce_loss(model, batch, temperature=0.05))  # more to beat
    # Encoded on the first call and again every refresh_every calls, with the weights of the time.
    assert catalogue.refreshes == 1 and catalogue.vectors.shape == (len(CORPUS), vectors.shape[1])
    with torch.no_grad():
        info_nce_loss(model, batch, catalogue=catalogue)
        assert catalogue.refreshes == 1
        model.train()  # the refresh encodes in eval mode (no dropout), then gives training back
        info_nce_loss(model, batch, catalogue=catalogue)
    assert catalogue.refreshes == 2 and model.training


def test_validation_ranks_the_whole_catalogue_without_the_users_own_items(tiny_encoder_dir):
    model = BiEncoder(tiny_encoder_dir, max_length=32).eval()
    catalogue = CatalogueNegatives(CORPUS)
    examples = [(CORPUS[i], CORPUS[i + 1], (i, i + 2), i + 1) for i in range(6)]
    result = info_nce_validation(model, examples, 4, 0.05, catalogue, k=3)
    # By hand: each anchor's rank of its positive among the catalogue minus its own two items.
    with torch.no_grad():
        anchors = model(**model.tokenize([e[0] for e in examples]))
        items = model(**model.tokenize(CORPUS))
    ranks = []
    for row, (_, _, own, target) in enumerate(examples):
        scores = anchors[row] @ items.T
        scores[list(own)] = float("-inf")
        ranks.append(int((scores > scores[target]).sum()))
    assert result["valid_recall@3"] == pytest.approx(sum(r < 3 for r in ranks) / 6)
    assert result["valid_ndcg@3"] == pytest.approx(sum(1 / math.log2(r + 2) for r in ranks if r < 3) / 6, abs=1e-6)
    assert {"valid_loss", "valid_accuracy"} <= set(result)
    # Without a catalogue (or with examples that carry no columns): the in-batch figures only.
    assert set(info_nce_validation(model, [e[:2] for e in examples], 4, 0.05, catalogue)) == {
        "valid_loss",
        "valid_accuracy",
    }


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_training_with_catalogue_negatives_lowers_the_loss(tiny_encoder_dir, precision):
    model = BiEncoder(tiny_encoder_dir, max_length=32)
    catalogue = CatalogueNegatives(CORPUS, refresh_every=3)
    pairs = [(a, b, [], (CORPUS.index(b),)) for a, b, _ in PAIRS]
    config = LoopConfig(epochs=3, batch_size=8, learning_rate=2e-3, device="cpu", patience=10, precision=precision)
    result = fit(
        model,
        pairs,
        functools.partial(collate_pairs, model),
        functools.partial(info_nce_loss, catalogue=catalogue),
        lambda module: info_nce_validation(module, VALID, 4, 0.05),
        config,
    )
    assert result.epochs[-1].train_loss < result.epochs[0].train_loss
    assert catalogue.refreshes == 4  # 12 batches, one refresh every 3


def test_runs_are_seeded_and_accumulation_takes_fewer_optimiser_steps(tiny_encoder_dir):
    config = LoopConfig(epochs=1, batch_size=4, learning_rate=1e-3, device="cpu", seed=7)
    _, first = _fit_encoder(tiny_encoder_dir, config)
    _, again = _fit_encoder(tiny_encoder_dir, config)
    assert first.epochs[0].train_loss == again.epochs[0].train_loss
    _, accumulated = _fit_encoder(tiny_encoder_dir, LoopConfig(**{**config.to_dict(), "grad_accumulation": 3}))
    assert first.steps == 7 and accumulated.steps == 3


def test_early_stopping_after_patience_epochs_without_improvement(tiny_encoder_dir):
    calls = iter([1.0, 1.1, 1.2, 0.5, 0.4])
    model = BiEncoder(tiny_encoder_dir, max_length=16)
    result = fit(
        model,
        PAIRS[:8],
        functools.partial(collate_pairs, model),
        info_nce_loss,
        lambda module: {"valid_loss": next(calls)},
        LoopConfig(epochs=5, batch_size=4, device="cpu", patience=1),
    )
    assert [e.epoch for e in result.epochs] == [1, 2, 3]
    assert result.stopped_early and result.best_epoch == 1


def test_a_monitored_ranking_figure_picks_the_best_epoch_where_the_loss_would_not(tiny_encoder_dir):
    """With catalogue negatives the in-batch validation loss can rise while the catalogue ranking
    improves: ``monitor="valid_ndcg@10"`` keeps the epoch that ranks best (higher is better)."""
    figures = iter(
        [
            {"valid_loss": 1.0, "valid_ndcg@10": 0.02},
            {"valid_loss": 1.1, "valid_ndcg@10": 0.04},
            {"valid_loss": 1.2, "valid_ndcg@10": 0.03},
            {"valid_loss": 1.3, "valid_ndcg@10": 0.035},
            {"valid_loss": 1.4, "valid_ndcg@10": 0.05},
        ]
    )
    model = BiEncoder(tiny_encoder_dir, max_length=16)
    saved = []
    result = fit(
        model,
        PAIRS[:8],
        functools.partial(collate_pairs, model),
        info_nce_loss,
        lambda module: next(figures),
        LoopConfig(epochs=5, batch_size=4, device="cpu", patience=1, monitor="valid_ndcg@10"),
        checkpoint=lambda module, epoch: saved.append(epoch),
    )
    assert [e.epoch for e in result.epochs] == [1, 2, 3, 4]  # two epochs without a better ranking
    assert result.best_epoch == 2 and saved == [1, 2] and result.best_valid_loss == 1.1
    with pytest.raises(ValueError, match="valid_auc.*valid_loss"):
        fit(
            model,
            PAIRS[:4],
            functools.partial(collate_pairs, model),
            info_nce_loss,
            lambda module: {"valid_loss": 1.0},
            LoopConfig(epochs=1, batch_size=4, device="cpu", monitor="valid_auc"),
        )
    with pytest.raises(ValueError, match="monitor"):
        LoopConfig(monitor="loss")


def test_the_cross_encoder_learns_to_separate_clicks(tiny_encoder_dir):
    examples = [("likes films", CORPUS[i], 1.0 if 7 <= i <= 14 else 0.0) for i in range(18)] * 2
    model = CrossEncoder(tiny_encoder_dir, max_length=32)
    result = fit(
        model,
        examples,
        functools.partial(collate_labelled, model),
        bce_loss,
        lambda module: bce_validation(module, examples[:18], 8),
        LoopConfig(epochs=4, batch_size=6, learning_rate=2e-3, device="cpu", patience=10),
    )
    assert result.epochs[-1].train_loss < result.epochs[0].train_loss
    assert result.epochs[-1].valid["valid_auc"] > 0.5


def test_bad_loop_settings_are_refused():
    with pytest.raises(ValueError, match="epochs"):
        LoopConfig(epochs=0)
    with pytest.raises(ValueError, match="precision"):
        LoopConfig(precision="int8")


@pytest.mark.slow
def test_data_parallel_training_with_torchrun_on_two_cpu_processes(tiny_encoder_dir, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(ROOT / "tests" / "training_ddp_worker.py"), str(tiny_encoder_dir), str(tmp_path)],
        check=True, env=env, cwd=ROOT, timeout=300, capture_output=True,
    )  # fmt: skip
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2]
    # Gradients are averaged, so both replicas hold the same weights after every step.
    assert ranks[0]["checksum"] == pytest.approx(ranks[1]["checksum"], rel=1e-9)
    # 27 pairs over 2 ranks: 14 each, 4 micro-batches of 4, accumulated by 2: 2 steps per epoch.
    assert ranks[0]["steps"] == ranks[1]["steps"] == 4
    assert len(ranks[0]["epochs"]) == 2 and ranks[1]["epochs"] == []  # rank 0 validates and records


def test_bf16_autocast_on_cpu_when_asked_for_fp32_otherwise():
    cpu = torch.device("cpu")
    assert resolve_precision("bf16", cpu) == "bf16"
    assert resolve_precision("auto", cpu) == resolve_precision("fp16", cpu) == "fp32"


def test_bf16_training_on_cpu(tiny_encoder_dir):
    config = LoopConfig(epochs=3, batch_size=8, learning_rate=2e-3, device="cpu", precision="bf16", patience=10)
    model, result = _fit_encoder(tiny_encoder_dir, config)
    assert result.precision == "bf16"
    assert next(model.parameters()).dtype == torch.float32  # autocast: the weights stay fp32
    assert result.epochs[-1].train_loss < result.epochs[0].train_loss


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("precision", ["auto", "fp16"])
def test_mixed_precision_training_on_cuda(tiny_encoder_dir, precision):
    config = LoopConfig(epochs=3, batch_size=8, learning_rate=2e-3, device="cuda", precision=precision, patience=10)
    model, result = _fit_encoder(tiny_encoder_dir, config)
    assert result.device.startswith("cuda")
    expected = "fp16" if precision == "fp16" else ("bf16" if torch.cuda.is_bf16_supported() else "fp16")
    assert result.precision == expected
    assert next(model.parameters()).device.type == "cuda" and next(model.parameters()).dtype == torch.float32
    assert result.epochs[-1].train_loss < result.epochs[0].train_loss


def test_the_serving_scorer_resolves_auto_to_the_available_device(tiny_encoder_dir):
    from llmrec_django.recommend.reranker import CrossEncoderScorer

    scorer = CrossEncoderScorer(str(tiny_encoder_dir), max_length=32, batch_size=2, device="auto")
    probabilities = scorer.score(["likes films"] * 3, CORPUS[7:10])
    assert probabilities.shape == (3,) and ((probabilities > 0) & (probabilities < 1)).all()
    assert scorer._model[1].type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_projection_training_leaves_the_transformer_as_it_was_and_serves_as_trained(tiny_encoder_dir, tmp_path):
    from llmrec_django.ml.encoders import TransformerEncoder
    from llmrec_django.ml.encoders.projection import PROJECTION_FILE, read_projection

    model = BiEncoder(tiny_encoder_dir, max_length=32, trainable="projection")
    before = {name: p.detach().clone() for name, p in model.transformer.named_parameters()}
    assert [name for name, p in model.named_parameters() if p.requires_grad] == ["projection.weight", "projection.bias"]
    # Untrained, the map is the identity: the cached path gives the base model's vectors.
    with torch.no_grad():
        base = BiEncoder(tiny_encoder_dir, max_length=32).eval()
        expected = base(**base.tokenize(CORPUS[:4]))
        assert torch.allclose(model.eval()(**model.tokenize(CORPUS[:4])), expected, atol=1e-5)
    assert model.cache(CORPUS[:4]) == 0  # each text goes through the transformer once

    config = LoopConfig(epochs=4, batch_size=8, learning_rate=5e-2, device="cpu", patience=10)
    _, result = _fit_encoder(None, config, model=model, checkpoint=lambda module, epoch: module.save(tmp_path / "best"))
    assert result.epochs[-1].train_loss < result.epochs[0].train_loss
    assert all(torch.equal(p, before[name]) for name, p in model.transformer.named_parameters())
    weight, bias = read_projection(tmp_path / "best")
    assert (tmp_path / "best" / PROJECTION_FILE).is_file() and not torch.allclose(weight, torch.eye(len(bias)))

    # The serving encoder applies the saved map: the same vectors as the trained module.
    served = TransformerEncoder(str(tmp_path / "best"), max_length=32, device="cpu").encode(CORPUS[:6])
    trained = BiEncoder(tmp_path / "best", max_length=32, trainable="projection").eval()
    with torch.no_grad():
        assert np.allclose(served, trained(**trained.tokenize(CORPUS[:6])).numpy(), atol=1e-5)
    assert not np.allclose(served[:4], expected.numpy(), atol=1e-3)  # it did learn something


def test_a_projection_that_is_not_a_square_map_is_refused_by_name(tiny_encoder_dir, tmp_path):
    import shutil

    from safetensors.torch import save_file

    from llmrec_django.ml.encoders import TransformerEncoder
    from llmrec_django.ml.encoders.projection import PROJECTION_FILE

    folder = Path(shutil.copytree(tiny_encoder_dir, tmp_path / "model"))
    save_file({"weight": torch.zeros(3, 4), "bias": torch.zeros(3)}, str(folder / PROJECTION_FILE))
    with pytest.raises(ValueError, match=PROJECTION_FILE):
        TransformerEncoder(str(folder), device="cpu").encode(["a film"])
    with pytest.raises(ValueError, match="trainable"):
        BiEncoder(tiny_encoder_dir, trainable="top")


def test_a_projection_contrasts_with_the_exact_catalogue_through_its_gradient(tiny_encoder_dir):
    model = BiEncoder(tiny_encoder_dir, max_length=32, trainable="projection")
    catalogue = CatalogueNegatives(CORPUS, refresh_every=1000)
    examples = [(CORPUS[0], CORPUS[1], [], (1,)), (CORPUS[2], CORPUS[3], [], (3,))]
    loss = info_nce_loss(model, collate_pairs(model, examples), catalogue=catalogue)
    loss.backward()
    # No stale copy: the catalogue went through the map with gradient (not a refresh without).
    assert catalogue.refreshes == 0 and catalogue.rows.shape == (len(CORPUS),)
    with_catalogue = model.projection.weight.grad.clone()
    model.zero_grad()
    info_nce_loss(model, collate_pairs(model, examples)).backward()  # same weights, in-batch only
    assert not torch.allclose(with_catalogue, model.projection.weight.grad)


def test_a_history_tower_weighs_the_recent_items_by_learnt_positions_and_serves_as_trained(tiny_encoder_dir, tmp_path):
    from llmrec_django.core.interest import interest_vector
    from llmrec_django.learning.training.trainers import _save_best
    from llmrec_django.ml.encoders.user_tower import HistoryAnchor, UserTower, read_user_tower

    model = BiEncoder(tiny_encoder_dir, max_length=32, trainable="projection", history_items=3, text_weight=0.5)
    # A user's anchor is their last items (oldest first), the newest item always following the
    # same pattern: CORPUS[i] is followed by CORPUS[i + 1]; older items are noise.
    n = len(CORPUS)
    pairs = [
        (HistoryAnchor("", (CORPUS[(i * 7) % n], CORPUS[(i * 11 + 3) % n], CORPUS[i])), CORPUS[(i + 1) % n], [])
        for i in range(n)
    ]
    pairs.append((HistoryAnchor("likes quiet films", (CORPUS[0],)), CORPUS[1], []))  # a stated text, one item
    batch = collate_pairs(model, pairs[:4] + pairs[-1:])
    history = batch["inputs"]["history"]
    assert history.shape == (5, 3) and (history[-1, :2] == -1).all() and history[-1, 2] >= 0  # newest last
    assert (batch["inputs"]["user_text"][:4] == -1).all() and batch["inputs"]["user_text"][-1] >= 0
    with torch.no_grad():  # untrained: equal weights over the present items, the text at 0.5
        vectors = model.eval()(**batch["inputs"])
        items = model(**model.tokenize([CORPUS[(0 * 7) % n], CORPUS[3], CORPUS[0], "likes quiet films"]))
    mean = items[:3].mean(dim=0)
    assert torch.allclose(vectors[0], mean / mean.norm(), atol=1e-5)
    last = items[2] + 0.5 * items[3]
    assert torch.allclose(vectors[4], last / last.norm(), atol=1e-5)

    config = LoopConfig(epochs=6, batch_size=8, learning_rate=5e-2, device="cpu", patience=10)
    checkpoint = _save_best(tmp_path / "best", UserTower(history_items=3, anchor="history", text_weight=0.5))
    result = fit(
        model,
        pairs,
        functools.partial(collate_pairs, model),
        info_nce_loss,
        lambda module: info_nce_validation(module, [(a, b) for a, b, _ in pairs[:8]], 4, 0.05),
        config,
        checkpoint=checkpoint,
    )
    assert result.epochs[-1].train_loss < result.epochs[0].train_loss
    weights = model.position_weights()
    assert weights[-1] > weights[0] and abs(sum(weights) - 1) < 1e-6  # it learnt that the newest item counts
    saved = read_user_tower(tmp_path / "best")
    assert saved.anchor == "history" and saved.history_items == 3 and len(saved.position_weights) == 3

    # The service's interest vector from the saved tower and the served item vectors is the
    # trained anchor (compute_user_vectors: interest_vector with the tower's position weights).
    best = BiEncoder(tmp_path / "best", max_length=32, trainable="projection", history_items=3, text_weight=0.5).eval()
    assert best.position_weights() == pytest.approx(saved.position_weights, abs=1e-5)
    with torch.no_grad():
        anchor = best(**collate_pairs(best, pairs[:1])["inputs"])[0].numpy()
        served_items = best(**best.tokenize(list(pairs[0][0].items))).numpy()
    served = interest_vector(served_items, saved.history_weights(3), None, saved.text_weight)
    assert np.allclose(served, anchor, atol=1e-5)
    # A tower over fewer items than it weighs takes the newest weights.
    assert saved.history_weights(1) == [saved.position_weights[-1]]

    with pytest.raises(ValueError, match="history user tower"):
        collate_pairs(BiEncoder(tiny_encoder_dir, max_length=32), pairs[:2])
