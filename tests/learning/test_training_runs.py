"""Training runs end to end with the tiny model: train, record, re-embed, evaluate, promote, roll back."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from django.core.management import call_command
from django.core.management.base import CommandError

from llmrec_django.conf import llmrec_settings
from llmrec_django.database import vectorstore
from llmrec_django.learning.training import data as training_data
from llmrec_django.learning.training import promotion, runs
from llmrec_django.ml.encoders.projection import read_projection
from llmrec_django.ml.encoders.user_tower import UserTower, read_user_tower
from llmrec_django.models import EmbeddingVersion, Interaction, Item, TrainingRun
from llmrec_django.queues import route_task
from llmrec_django.recommend import recommend_for_user, reranker


def test_an_encoder_run_trains_records_re_embeds_and_is_evaluated(tenant, shop, tmp_path):
    _, _, base_version = shop
    run = runs.create_run(tenant, "encoder", {"epochs": 3, "patience": 5})
    run = runs.execute_run(run.pk, auto_promote=False)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    # Per-epoch records: the training loss goes down on the tiny model.
    assert [e["epoch"] for e in run.epochs] == [1, 2, 3]
    assert run.epochs[-1]["train_loss"] < run.epochs[0]["train_loss"]
    assert all({"valid_loss", "valid_accuracy", "seconds"} <= set(e) for e in run.epochs)
    assert run.params["learning_rate"] == 1e-3 and run.params["weight_decay"] == 0.01
    assert run.device == "cpu (fp32)" and run.progress == 1.0 and run.duration_seconds > 0
    assert run.data_window["train_examples"] > 0 and run.data_window["valid_examples"] == 12
    # The best epoch's weights are saved under ARTIFACTS and re-embedded into a new version.
    model_dir = Path(run.artifact_path)
    assert model_dir.is_relative_to(tmp_path / "artifacts") and (model_dir / "config.json").is_file()
    # With the user side as trained, so serving writes its users' texts the same way.
    assert read_user_tower(model_dir) == UserTower(
        history_items=run.params["history_items"], anchor="titles", text_weight=run.params["user_text_weight"]
    )
    version = run.embedding_version
    assert version.status == EmbeddingVersion.Status.READY and version.model_path == str(model_dir)
    assert version.model_name == f"encoder-{run.pk}"
    assert version.items_done == version.items_total == 18
    # Evaluated against the active version on the same split; manual mode waits for an admin.
    assert run.metrics["metric"] == "ndcg@10" and {"baseline", "candidate"} <= set(run.metrics)
    assert run.metrics["baseline_model"].startswith(f"embedding version {base_version.pk}")
    # With the gain's interval over the 12 evaluated users and the split's baselines for scale.
    spread = run.metrics["relative_gain_interval"]
    assert spread["users"] == 12 and spread["confidence"] == 0.95
    if spread["interval"] is not None:
        low, high = spread["interval"]
        assert low <= run.metrics["relative_gain"] <= high or low == high
    assert set(run.metrics["references"]) == {"most_popular", "item_knn", "als"}
    if promotion.beats_active(run):
        assert run.promotion == TrainingRun.Promotion.PENDING
    else:
        assert run.promotion == TrainingRun.Promotion.REJECTED
    assert vectorstore.active_version(tenant).pk == base_version.pk  # nothing switched yet

    # One click promotes; the previous version stays for a one-click rollback.
    promotion.promote(run)
    assert vectorstore.active_version(tenant).pk == version.pk
    assert run.previous_version_id == base_version.pk and run.promotion == TrainingRun.Promotion.ACTIVE
    promotion.rollback(run)
    assert vectorstore.active_version(tenant).pk == base_version.pk
    run.refresh_from_db()
    assert run.promotion == TrainingRun.Promotion.ROLLED_BACK
    with pytest.raises(promotion.PromotionError):
        promotion.rollback(run)

    # Idempotent: a finished run is not trained again (a redelivered task does nothing).
    assert runs.execute_run(run.pk).epochs == run.epochs


def test_a_projection_run_trains_only_the_map_and_its_version_serves_it(tenant, shop):
    _, _, base_version = shop
    run = runs.create_run(tenant, "encoder", {"trainable": "projection", "epochs": 3, "learning_rate": 5e-2})
    run = runs.execute_run(run.pk, auto_promote=False)
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    # Every distinct text went through the frozen transformer once, before the first epoch.
    assert run.data_window["cached_texts"] >= 18 and run.data_window["cache_seconds"] >= 0
    assert run.epochs[-1]["train_loss"] < run.epochs[0]["train_loss"]
    model_dir = Path(run.artifact_path)
    assert read_projection(model_dir) is not None
    # The transformer's weights are the base model's; the new version's vectors are not.
    from safetensors.torch import load_file

    tuned, base = (
        load_file(model_dir / "model.safetensors"),
        load_file(Path(base_version.model_path) / "model.safetensors"),
    )
    assert all(np.array_equal(tuned[name].numpy(), base[name].numpy()) for name in base if name in tuned)
    ids = list(Item.objects.for_tenant(tenant).values_list("pk", flat=True))
    tuned_vectors, base_vectors = (vectorstore.item_vectors(v, ids) for v in (run.embedding_version, base_version))
    assert len(tuned_vectors) == len(ids) == 18
    assert not np.allclose(
        np.stack([tuned_vectors[i] for i in ids]), np.stack([base_vectors[i] for i in ids]), atol=1e-4
    )

    # The next run on the same base model reuses the items' vectors and encodes only the users'
    # texts again: those are never written to the cache file (erasure would have to find them).
    again = runs.execute_run(runs.create_run(tenant, "encoder", {"trainable": "projection", "epochs": 1}).pk)
    assert again.status == TrainingRun.Status.SUCCEEDED, again.error
    reused, encoded = again.data_window["cache_reused"], again.data_window["cached_texts"]
    assert reused + encoded == run.data_window["cached_texts"] and 0 < encoded < run.data_window["cached_texts"]
    [cache_file] = (llmrec_settings.training_artifacts / "pooled-cache").glob("*.pt")
    saved = torch.load(cache_file, weights_only=True)["texts"]
    assert len(saved) == reused
    assert not any(words in text for text in saved for words in ("loves films", "outdoor and kitchen gear"))


def test_an_unknown_trainable_part_is_refused_before_any_work(tenant, shop):
    with pytest.raises(ValueError, match="trainable must be one of all, projection"):
        runs.create_run(tenant, "encoder", {"trainable": "top_layers"})
    assert not TrainingRun.objects.filter(tenant=tenant).exists()


def _finished_run(tenant, kind, version=None, baseline=0.5, candidate=0.6, path="", interval=None):
    return TrainingRun.objects.create(
        tenant=tenant,
        kind=kind,
        status=TrainingRun.Status.SUCCEEDED,
        embedding_version=version,
        artifact_path=path,
        metrics={
            "metric": "ndcg@10",
            "baseline": baseline,
            "candidate": candidate,
            "relative_gain": candidate / baseline - 1,
            "relative_gain_interval": {"interval": interval, "confidence": 0.95, "users": 100},
        },
    )


def _ready_copy(version):
    copy = vectorstore.create_version(version.tenant, model_name="tuned", model_path=version.model_path, dimension=32)
    copy.status = EmbeddingVersion.Status.READY
    copy.save()
    return copy


def test_promotion_only_when_better_and_manual_mode_waits(tenant, shop, settings):
    _, _, base_version = shop
    worse = _finished_run(tenant, "encoder", _ready_copy(base_version), baseline=0.5, candidate=0.4)
    assert promotion.decide(worse, auto_promote=True) == TrainingRun.Promotion.REJECTED
    assert vectorstore.active_version(tenant).pk == base_version.pk

    equal = _finished_run(tenant, "encoder", _ready_copy(base_version), baseline=0.5, candidate=0.5)
    assert promotion.decide(equal, auto_promote=True) == TrainingRun.Promotion.REJECTED

    better = _finished_run(tenant, "encoder", _ready_copy(base_version))
    assert promotion.decide(better, auto_promote=False) == TrainingRun.Promotion.PENDING
    assert vectorstore.active_version(tenant).pk == base_version.pk
    assert promotion.decide(better, auto_promote=True) == TrainingRun.Promotion.ACTIVE
    assert vectorstore.active_version(tenant).pk == better.embedding_version_id

    # MIN_IMPROVEMENT: 0.6 vs 0.5 is +20 %, not enough when 25 % is asked for.
    settings.LLMREC = {**settings.LLMREC, "TRAINING": {**settings.LLMREC["TRAINING"], "MIN_IMPROVEMENT": 0.25}}
    again = _finished_run(tenant, "encoder", _ready_copy(base_version))
    assert promotion.decide(again, auto_promote=True) == TrainingRun.Promotion.REJECTED

    # REQUIRE_CONFIDENT_GAIN: +20 % whose interval reaches below 0 is noise, not a better model;
    # the same gain with the whole interval above 0 is promoted.
    settings.LLMREC = {
        **settings.LLMREC,
        "TRAINING": {**settings.LLMREC["TRAINING"], "MIN_IMPROVEMENT": 0.0, "REQUIRE_CONFIDENT_GAIN": True},
    }
    noisy = _finished_run(tenant, "encoder", _ready_copy(base_version), interval=[-0.1, 0.5])
    assert promotion.decide(noisy, auto_promote=False) == TrainingRun.Promotion.REJECTED
    sure = _finished_run(tenant, "encoder", _ready_copy(base_version), interval=[0.05, 0.35])
    assert promotion.decide(sure, auto_promote=False) == TrainingRun.Promotion.PENDING
    assert "(95% interval +5.0% .. +35.0%, 100 users)" in promotion.describe_gain(sure.metrics)

    # A newer promotion replaces the active encoder run, which stays for rollback.
    settings.LLMREC = {**settings.LLMREC, "TRAINING": {**settings.LLMREC["TRAINING"], "MIN_IMPROVEMENT": 0.0}}
    newest = _finished_run(tenant, "encoder", _ready_copy(base_version))
    promotion.decide(newest, auto_promote=True)
    better.refresh_from_db()
    assert better.promotion == TrainingRun.Promotion.REPLACED
    promotion.rollback(newest)
    better.refresh_from_db()
    assert better.promotion == TrainingRun.Promotion.ACTIVE
    assert vectorstore.active_version(tenant).pk == better.embedding_version_id


def test_a_better_ranking_that_makes_lists_monotonous_is_not_promoted(tenant, shop, settings):
    """NDCG up, but diversity@10 falls from 0.69 to 0.37: the guardrail refuses it and says why;
    coverage within its allowed drop passes."""
    _, _, base_version = shop
    run = _finished_run(tenant, "encoder", _ready_copy(base_version), baseline=0.5, candidate=0.6)
    run.metrics = {
        **run.metrics,
        "baseline_metrics": {"ndcg@10": 0.5, "diversity@10": 0.69, "coverage@10": 0.40},
        "candidate_metrics": {"ndcg@10": 0.6, "diversity@10": 0.37, "coverage@10": 0.35},
    }
    run.save()
    assert promotion.decide(run, auto_promote=True) == TrainingRun.Promotion.REJECTED
    assert vectorstore.active_version(tenant).pk == base_version.pk
    run.refresh_from_db()
    assert run.metrics["refused"] == "diversity@10 fell from 0.690 to 0.370 (at most 15% allowed)"
    assert run.metrics["guardrails"]["coverage@10"]["held"] is True
    # Diversity within its allowed drop: promoted.
    kept = _finished_run(tenant, "encoder", _ready_copy(base_version), baseline=0.5, candidate=0.6)
    kept.metrics = {
        **kept.metrics,
        "baseline_metrics": {"diversity@10": 0.69},
        "candidate_metrics": {"diversity@10": 0.62},
    }
    kept.save()
    assert promotion.decide(kept, auto_promote=True) == TrainingRun.Promotion.ACTIVE


def test_a_reranker_run_trains_and_reorders_recommendations_when_active(tenant, shop):
    _, users, base_version = shop
    run = runs.create_run(tenant, "reranker", {"epochs": 2, "patience": 5})
    run = runs.execute_run(run.pk, auto_promote=False)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.epochs[-1]["train_loss"] < run.epochs[0]["train_loss"]
    assert "valid_auc" in run.epochs[0]
    assert run.metrics["baseline_model"] == "no re-ranker"
    assert run.promotion in (TrainingRun.Promotion.PENDING, TrainingRun.Promotion.REJECTED)
    # Any two ways of serving compare the same way (the benchmark's base -> both fine-tuned models).
    again = promotion.compare(run, (base_version.pk, None), (base_version.pk, run.artifact_path))
    assert again["baseline"] == pytest.approx(run.metrics["baseline"])
    assert again["candidate"] == pytest.approx(run.metrics["candidate"])
    assert again["relative_gain_interval"]["users"] == 12
    same = promotion.compare(run, (base_version.pk, None), (base_version.pk, None))
    assert same["baseline"] > 0 and same["relative_gain"] == 0
    assert same["relative_gain_interval"]["interval"] in (None, [0.0, 0.0])

    user = users[1]
    before = recommend_for_user(user, tenant=tenant, k=10, mmr_lambda=1.0).item_ids
    with reranker.using(run.artifact_path):
        reordered = recommend_for_user(user, tenant=tenant, k=10, mmr_lambda=1.0).item_ids
    assert before and reordered != before

    # Promoted, it serves every request; rolled back, the hybrid order is back.
    promotion.promote(run)
    assert reranker.active_reranker(tenant).pk == run.pk
    assert recommend_for_user(user, tenant=tenant, k=10, mmr_lambda=1.0).item_ids == reordered
    promotion.rollback(run)
    assert reranker.active_reranker(tenant) is None
    assert recommend_for_user(user, tenant=tenant, k=10, mmr_lambda=1.0).item_ids == before


def test_the_reranker_reorders_only_the_top_n_weighing_its_clicks_against_the_hybrid(
    tenant, shop, settings, monkeypatch
):
    items, users, _ = shop
    ids = [i.pk for i in items[:6]]
    scores = np.array([6.0, 5.0, 4.0, 3.0, 2.0, 1.0])
    clicks = {items[0].pk: 0.2, items[1].pk: 0.3, items[2].pk: 0.4, items[3].pk: 0.95}  # the top 4 only
    texts = {text: pk for pk, text in training_data.item_text_map(ids).items()}

    class FixedScorer:
        def score(self, users_text, item_texts):
            return np.array([clicks[texts[t]] for t in item_texts])

    monkeypatch.setattr(reranker, "scorer_for", lambda path: FixedScorer())

    def order(weight):
        settings.LLMREC = {
            **settings.LLMREC,
            "TRAINING": {**settings.LLMREC.get("TRAINING", {}), "RERANKER": {"top_n": 4, "weight": weight}},
        }
        new = reranker.rerank(tenant, users[0], ids, scores, path="fixed")
        return [ids.index(i) for i in np.array(ids)[np.argsort(-new, kind="stable")]]

    assert order(1.0) == [3, 2, 1, 0, 4, 5]  # the re-ranker's order alone above the untouched rest
    assert order(0.0) == [0, 1, 2, 3, 4, 5]  # the hybrid's
    assert order(0.5) == [0, 3, 1, 2, 4, 5]  # the sure click climbs; the hybrid's first stays first


def test_a_failing_run_leaves_its_error_on_the_record(tenant, shop):
    Interaction.objects.for_tenant(tenant).delete()
    run = runs.create_run(tenant, "encoder")
    with pytest.raises(ValueError, match="no interactions"):
        runs.execute_run(run.pk)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.FAILED
    assert "no interactions to train on" in run.error and run.finished_at is not None
    assert vectorstore.active_version(tenant).pk == shop[2].pk


def test_the_command_trains_waits_for_promotion_and_promotes(tenant, shop, capsys):
    call_command("llmrec_train", "reranker", "--epochs", "1", "--manual", "--set", "negatives_per_positive=1")
    run = TrainingRun.objects.get(kind="reranker")
    out = capsys.readouterr().out
    assert f"reranker run {run.pk}" in out and "ndcg@10: candidate" in out
    assert run.params["negatives_per_positive"] == 1 and run.params["epochs"] == 1
    call_command("llmrec_train", "promote", str(run.pk))
    run.refresh_from_db()
    assert run.promotion == TrainingRun.Promotion.ACTIVE
    call_command("llmrec_train", "list")
    assert "reranker" in capsys.readouterr().out
    call_command("llmrec_train", "rollback", str(run.pk))
    with pytest.raises(CommandError, match="Unknown reranker training parameter"):
        call_command("llmrec_train", "reranker", "--set", "nope=1")
    with pytest.raises(CommandError, match="needs a run id"):
        call_command("llmrec_train", "promote")


def test_training_tasks_go_to_the_gpu_queue_and_run_through_celery(tenant, shop, django_capture_on_commit_callbacks):
    from llmrec_django import tasks
    from llmrec_django.models import PendingWork

    assert route_task("llmrec_django.tasks.train_model", (), {}, {}) == {"queue": "llmrec.gpu"}
    assert route_task("llmrec_django.tasks.train_finish_run", (), {}, {}) == {"queue": "llmrec.gpu"}
    assert tasks.train_model.acks_late
    with django_capture_on_commit_callbacks(execute=False) as sends:
        run = runs.enqueue_run(tenant, "reranker", {"epochs": 1})
    # Queued through the outbox: the run and its pending work are stored together.
    assert run.stage == "queued" and PendingWork.objects.filter(task=tasks.train_model.name, args=[run.pk]).exists()
    for send in sends:
        send()  # the send after the commit (eager in the tests: the run trains here)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED and run.task_id
    assert not PendingWork.objects.filter(task=tasks.train_model.name).exists()


def test_scheduled_retraining_waits_for_enough_new_interactions(tenant, shop, settings):
    from llmrec_django import tasks
    from llmrec_django.models import PendingWork

    def queued() -> list[int]:  # runs waiting in the outbox (no commit, so none sent, in this test)
        return [work.args[0] for work in PendingWork.objects.filter(task=tasks.train_model.name)]

    settings.LLMREC = {**settings.LLMREC, "TRAINING": {**settings.LLMREC["TRAINING"], "MIN_NEW_INTERACTIONS": 100}}
    assert tasks.schedule_retraining(["reranker"]) == []  # 72 interactions only
    settings.LLMREC = {**settings.LLMREC, "TRAINING": {**settings.LLMREC["TRAINING"], "MIN_NEW_INTERACTIONS": 50}}
    assert runs.new_interactions_since_last_run(tenant, "reranker") == 72
    started = tasks.schedule_retraining(["reranker"])
    sent = queued()
    assert started == sent and len(sent) == 1
    assert tasks.schedule_retraining(["reranker"]) == []  # one is already queued
    # Once it succeeded, only interactions after its data window count.
    last_id = Interaction.objects.order_by("-pk").values_list("pk", flat=True).first()
    TrainingRun.objects.filter(pk=sent[0]).update(status="succeeded", data_window={"last_interaction_id": last_id})
    assert runs.new_interactions_since_last_run(tenant, "reranker") == 0
    assert tasks.schedule_retraining(["reranker"]) == []


def test_importing_the_tasks_and_training_modules_initialises_no_torch():
    """Workers fork after importing the tasks: neither torch (CUDA) nor a tokenizer may be loaded yet."""
    import subprocess

    code = (
        "import django, os, sys; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'tests.settings'); django.setup();"
        "import llmrec_django.tasks, llmrec_django.learning.training.runs, llmrec_django.learning.training.promotion,"
        " llmrec_django.recommend.reranker, llmrec_django.recommend;"
        "print(sorted(m for m in ('torch', 'transformers', 'tokenizers') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[2]
    )
    assert out.stdout.strip() == "[]"
