"""What fine-tuning buys: NDCG@10 of the recommend service with the base encoder, after encoder
fine-tuning, and after adding the trained CTR re-ranker, on MovieLens ml-latest-small.

    python bench/finetune_gain.py [DATA_DIR] [--examples 6000] [--epochs 1] [--max-length 64]
                                  [--reranker-examples 2000] [--reranker-lr 5e-5] [--lr 5e-5] [--precision bf16] [--json OUT]
                                  [--encoder-run ID]  (reuse an earlier run's encoder: re-ranker only)
                                  [--encoder-dir DIR --trained-on TEXT]  (an encoder trained elsewhere)
                                  [--train-only]  (train and stop: the folder for --encoder-dir)
                                  [--trainable projection]  (the transformer frozen: minutes on a CPU)
                                  [--held-out-items 5]  (each user's last 5 liked movies held out, not 1)
                                  [--anchor history --history-items 20]  (the user tower that weighs recent items)
                                  [--monitor valid_ndcg@10]  (the epoch that ranks the catalogue best is kept)

DATA_DIR defaults to ``<repo>/../shared/data/ml-latest-small``. The data set is imported into a
tenant of its own (``bench-finetune``) and embedded with the configured encoder (all-MiniLM-L6-v2),
once; later runs reuse it, and each run starts by re-activating that base version.

Then, as the service does it (``llmrec_django.training``): an encoder run (examples from the
training part of the temporal split, InfoNCE with in-batch and ANN hard negatives, the catalogue
re-embedded into a new version), whose promotion evaluation scores the base version and the
fine-tuned one on the same split in the same call; the fine-tuned version is activated; then a
re-ranker run on top of it, whose evaluation scores the service without and with the re-ranker.
Each gain comes with its paired bootstrap interval over the evaluated users (one held-out item
each, so a few percent is within the noise), and the split's baselines (most popular, item-KNN,
ALS) are printed for scale.

``--encoder-dir`` evaluates an encoder trained on another machine (a GPU box running this
benchmark with ``--train-only``; its run's artifact folder, ``LLMREC_HOME/training/
bench-finetune/encoder-N``): the folder becomes a run of this tenant, the catalogue is
re-embedded here and the run is evaluated and promoted exactly as after training, so a
GPU-trained model can be measured (and a re-ranker trained on top of it) where the GPU is gone.

The split is the promotion's: each user's last liked movie held out (the training's validation
part; ``--held-out-items N``, TRAINING HELD_OUT_ITEMS: the last N, which narrows the interval), every
user evaluated. Printed: the three NDCG@10 figures, their ratios (goal: fine-tuned /
base >= 1.10, for the encoder alone and for both fine-tuned models, the latter also measured
against the base in one ``promotion.compare`` call with its own interval), seconds per epoch of each model on this machine's device, and the machine.
On CPU the training sets are subsampled (``--examples``) to keep the whole run near 20 minutes;
``--trainable projection --examples 0 --lr 1e-3 --epochs 10`` trains only a linear map on the
frozen encoder's vectors (``encoders.projection``) on every pair in about as long. The CPU
recipe that meets the goal adds the user tower "history" (a user is their last 20 liked items'
vectors weighted by learnt position weights) against the whole catalogue, keeping the epoch
that ranks it best::

    python bench/finetune_gain.py --trainable projection --anchor history --history-items 20 \
        --catalogue-negatives --hard-negatives 0 --examples 0 --epochs 12 --lr 3e-3 \
        --batch-size 256 --patience 3 --monitor valid_ndcg@10 --no-reranker
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TENANT = "bench-finetune"
GOAL = 1.10


def setup_django() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_site.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)  # a fresh LLMREC_HOME gets its tables and pgvector


def prepare(data: Path) -> dict:
    """The tenant with ml-latest-small, its base version active (re-activated on later runs)
    and no re-ranker active (rolled back on later runs)."""
    from llmrec_django.catalogue import embedding
    from llmrec_django.catalogue.importing.movielens import import_movielens
    from llmrec_django.conf.backends import get_encoder
    from llmrec_django.database import vectorstore
    from llmrec_django.learning.training import promotion
    from llmrec_django.models import EmbeddingVersion, Interaction, Item, Tenant
    from llmrec_django.recommend import reranker

    tenant, _ = Tenant.objects.get_or_create(slug=TENANT, defaults={"name": "Fine-tuning benchmark (MovieLens)"})
    done: dict = {}
    if not Item.objects.for_tenant(tenant).exists() or not Interaction.objects.for_tenant(tenant).exists():
        started = time.perf_counter()
        import_movielens(data, tenant)
        done["import_seconds"] = round(time.perf_counter() - started, 1)
    base_path = get_encoder().model_path
    base = (
        EmbeddingVersion.objects.for_tenant(tenant)
        .filter(model_path=base_path, status__in=[EmbeddingVersion.Status.READY, EmbeddingVersion.Status.ACTIVE])
        .order_by("created_at")
        .first()
    )
    if base is None:
        started = time.perf_counter()
        base = embedding.build_version_in_process(tenant)
        done["embed_seconds"] = round(time.perf_counter() - started, 1)
    vectorstore.activate_version(base)
    # A re-ranker left active by an earlier run would sit in the re-ranker run's baseline.
    while (current := reranker.active_reranker(tenant)) is not None:
        promotion.rollback(current)
        done.setdefault("rerankers_switched_off", []).append(current.pk)
    done.update(items=Item.objects.for_tenant(tenant).count(), events=Interaction.objects.for_tenant(tenant).count())
    return {"tenant": tenant, "base_version": base.pk, **done}


def machine() -> str:
    import platform

    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU only"
    cpu = platform.processor() or platform.machine()
    return (
        f"{platform.node()} {cpu}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), {device}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="?", default=str(ROOT.parent / "shared" / "data" / "ml-latest-small"))
    parser.add_argument("--examples", type=int, default=6000, help="Encoder training pairs kept (seeded sample).")
    parser.add_argument("--reranker-examples", type=int, default=2000, help="Re-ranker positives kept.")
    parser.add_argument(
        "--reranker-lr",
        type=float,
        default=5e-5,
        help="The re-ranker's learning rate: every weight of the cross-encoder is trained, whatever --lr and --trainable say.",
    )
    parser.add_argument("--reranker-epochs", type=int, default=3, help="At most (early stopping with --patience).")
    parser.add_argument("--epochs", type=int, default=1, help="The encoder's epochs, at most.")
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-5, help="The encoder's learning rate.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the runs (sampling, shuffling, initialisation).")
    parser.add_argument(
        "--patience", type=int, default=1, help="Epochs without a better validation loss before stopping."
    )
    parser.add_argument(
        "--monitor",
        default="valid_loss",
        help="The encoder's validation figure that picks its best epoch (TRAINING COMMON monitor): "
        "valid_loss, or valid_ndcg@10 (its catalogue ranking).",
    )
    parser.add_argument("--history-items", type=int, default=5)
    parser.add_argument(
        "--held-out-items",
        type=int,
        default=1,
        help="Each user's last N liked movies held out of training and scored (TRAINING HELD_OUT_ITEMS).",
    )
    parser.add_argument(
        "--precision",
        choices=["auto", "bf16", "fp32"],
        default="auto",
        help="Autocast (TRAINING COMMON precision): bf16 also works on a CPU (faster with AVX-512 BF16).",
    )
    parser.add_argument(
        "--trainable",
        choices=["all", "projection"],
        default="all",
        help="Fine-tune every weight, or only a linear map on the frozen encoder's vectors (TRAINING ENCODER trainable).",
    )
    parser.add_argument(
        "--anchor",
        choices=["titles", "item_texts", "history"],
        default="titles",
        help='The user side (TRAINING ENCODER anchor): recent titles or item texts as one text, or "history": the last --history-items liked items\' vectors weighted by learnt position weights.',
    )
    parser.add_argument(
        "--hard-negatives-from",
        choices=["ann", "collaborative", "both"],
        default="ann",
        help="Where the encoder's hard negatives are mined (TRAINING ENCODER hard_negatives_from).",
    )
    parser.add_argument(
        "--hard-negatives", type=int, default=1, help="Mined hard negatives per pair (TRAINING ENCODER hard_negatives)."
    )
    parser.add_argument(
        "--catalogue-negatives",
        action="store_true",
        help="Contrast every anchor with the whole catalogue too (TRAINING ENCODER catalogue_negatives).",
    )
    parser.add_argument(
        "--catalogue-refresh-batches", type=int, default=100, help="Batches between re-encodings of those items."
    )
    parser.add_argument("--top-n", type=int, default=50, help="Items of each list the re-ranker re-orders.")
    parser.add_argument("--no-reranker", action="store_true")
    parser.add_argument(
        "--encoder-run",
        type=int,
        help="Reuse this finished encoder run of the benchmark's tenant (its figures) instead of training one.",
    )
    parser.add_argument(
        "--encoder-dir",
        help="Evaluate this encoder folder, trained elsewhere on the same data (an encoder run's artifact folder).",
    )
    parser.add_argument("--trained-on", default="", help="With --encoder-dir: where and how it was trained (recorded).")
    parser.add_argument(
        "--train-only",
        action="store_true",
        help="Train the encoder and stop (no re-embedding or evaluation): its folder is for --encoder-dir elsewhere.",
    )
    parser.add_argument("--json", help="Write the figures to this file.")
    args = parser.parse_args()
    if sum(map(bool, (args.encoder_run, args.encoder_dir, args.train_only))) > 1:
        parser.error("--encoder-run, --encoder-dir and --train-only exclude one another.")

    setup_django()
    from django.conf import settings
    from django.test.utils import override_settings

    from llmrec_django.conf import llmrec_settings
    from llmrec_django.database import vectorstore
    from llmrec_django.learning.training import promotion, runs
    from llmrec_django.models import TrainingRun

    started = time.perf_counter()
    prepared = prepare(Path(args.data))
    tenant = prepared.pop("tenant")
    print(f"data: {args.data}: {prepared}", flush=True)
    common = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.lr,
        "patience": args.patience,
        "seed": args.seed,
        "max_length": args.max_length,
        "history_items": args.history_items,
        "precision": args.precision,
    }
    training = {
        **llmrec_settings.TRAINING,
        "AUTO_PROMOTE": True,
        "EVALUATION_USERS": None,
        "HELD_OUT_ITEMS": args.held_out_items,
        "COMMON": {**llmrec_settings.TRAINING["COMMON"], **common},
        "RERANKER": {**llmrec_settings.TRAINING["RERANKER"], "top_n": args.top_n},
    }
    figures: dict = {
        "settings": {
            **common,
            "examples": args.examples,
            "held_out_items": args.held_out_items,
            "reranker_examples": args.reranker_examples,
            "reranker_learning_rate": args.reranker_lr,
            "reranker_epochs": args.reranker_epochs,
            "top_n": args.top_n,
            "trainable": args.trainable,
            "anchor": args.anchor,
            "hard_negatives_from": args.hard_negatives_from,
            "hard_negatives": args.hard_negatives,
            "catalogue_negatives": args.catalogue_negatives,
            "catalogue_refresh_batches": args.catalogue_refresh_batches,
            "monitor": args.monitor,
        }
    }
    with override_settings(LLMREC={**settings.LLMREC, "TRAINING": training}):
        if args.encoder_run:
            encoder = TrainingRun.objects.get(pk=args.encoder_run, tenant=tenant, kind="encoder", status="succeeded")
            if encoder.data_window.get("held_out_items", 1) != args.held_out_items:
                raise SystemExit(
                    f"Encoder run {encoder.pk} held out {encoder.data_window.get('held_out_items', 1)} items per user; "
                    f"pass the same --held-out-items to compare on its split."
                )
            print(f"\n== encoder run {encoder.pk} (trained and evaluated before; its version switched on) ==")
            vectorstore.activate_version(encoder.embedding_version)
        elif args.encoder_dir:
            print(f"\n== encoder trained elsewhere: {args.encoder_dir} ==", flush=True)
            encoder = evaluate_trained_elsewhere(tenant, Path(args.encoder_dir), args)
        else:
            print("\n== encoder run ==", flush=True)
            encoder = runs.create_run(
                tenant,
                "encoder",
                {
                    "max_examples": args.examples,
                    "trainable": args.trainable,
                    "anchor": args.anchor,
                    "hard_negatives_from": args.hard_negatives_from,
                    "hard_negatives": args.hard_negatives,
                    "catalogue_negatives": args.catalogue_negatives,
                    "catalogue_refresh_batches": args.catalogue_refresh_batches,
                    "monitor": args.monitor,
                },
            )
            if args.train_only:
                train_only(encoder, args, started)
                return
            encoder = runs.execute_run(encoder.pk)
        if encoder.promotion != "active":
            print(f"(the fine-tuned encoder was {encoder.promotion}; activated anyway to measure the re-ranker on it)")
            promotion.promote(encoder)
        figures["encoder"] = describe(encoder)
        print(json.dumps(figures["encoder"], indent=1), flush=True)
        if not args.no_reranker:
            print("\n== re-ranker run ==", flush=True)
            rr = runs.create_run(
                tenant,
                "reranker",
                {
                    "max_examples": args.reranker_examples,
                    "batch_size": 16,
                    "learning_rate": args.reranker_lr,
                    "epochs": args.reranker_epochs,
                },
            )
            rr = runs.execute_run(rr.pk)
            figures["reranker"] = describe(rr)
            print(json.dumps(figures["reranker"], indent=1), flush=True)
            print("\n== base encoder vs both fine-tuned models (same split, one call) ==", flush=True)
            overall = promotion.compare(
                rr, (prepared["base_version"], None), (encoder.embedding_version_id, rr.artifact_path)
            )
            figures["overall"] = {key: value for key, value in overall.items() if key != "references"}
            print(json.dumps(figures["overall"], indent=1, default=str), flush=True)

    metric = encoder.metrics["metric"]
    base, tuned = encoder.metrics["baseline"], encoder.metrics["candidate"]
    print(f"\n== summary ({metric}, {encoder.data_window.get('split', 'temporal split')}, all users) ==")
    references = encoder.metrics.get("references") or {}
    for name in promotion.REFERENCE_METHODS:
        if name in references:
            print(f"{name + ' (same split)':<34}{references[name]:.4f}")
    print(f"base encoder (all-MiniLM-L6-v2)   {base:.4f}")
    print(
        f"fine-tuned encoder                {tuned:.4f}   x{tuned / base:.3f} ({'goal met' if tuned / base >= GOAL else 'below the 1.10 goal'})"
    )
    print(f"  relative gain {promotion.describe_gain(encoder.metrics)} (paired bootstrap over users)")
    if "reranker" in figures:
        rr_base, rr = figures["reranker"]["baseline"], figures["reranker"]["candidate"]
        print(
            f"fine-tuned + re-ranker            {rr:.4f}   x{rr / base:.3f} vs base, x{rr / rr_base:.3f} vs fine-tuned ({rr_base:.4f} re-measured)"
        )
        print(f"  re-ranker's gain {promotion.describe_gain(figures['reranker'])}")
    if "overall" in figures:
        both = figures["overall"]
        ratio = both["candidate"] / both["baseline"]
        print(
            f"base -> both fine-tuned models    {both['baseline']:.4f} -> {both['candidate']:.4f}   x{ratio:.3f} "
            f"({'goal met' if ratio >= GOAL else 'below the 1.10 goal'}), measured together"
        )
        print(f"  relative gain {promotion.describe_gain(both)}")
    for name in ("encoder", "reranker"):
        if name in figures:
            f = figures[name]
            if not f["epochs"]:  # --encoder-dir
                print(f"{name}: trained on {f['device']}; re-embedded and evaluated here in {f['duration']}s")
                continue
            print(
                f"{name}: {f['seconds_per_epoch']} s/epoch on {f['device']} ({f['window']['train_examples']} examples); run {f['duration']}s in all"
            )
    print(f"machine: {machine()}; total {time.perf_counter() - started:.0f}s")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, default=str))


def train_only(run, args, started: float) -> None:
    """The encoder run's training alone, its best epoch saved in its artifact folder; the run is
    recorded as succeeded but not evaluated (promoting it is refused: no embedding version)."""
    from django.utils import timezone

    from llmrec_django.learning.training import runs
    from llmrec_django.models import TrainingRun

    with running(run):
        runs.train_on_ranks(run.tenant, run.kind, run.params, run=run)
    finished = timezone.now()
    TrainingRun.objects.filter(pk=run.pk).update(
        status=TrainingRun.Status.SUCCEEDED,
        stage="trained, not evaluated (--train-only)",
        finished_at=finished,
        duration_seconds=round((finished - run.started_at).total_seconds(), 3),
    )
    figures = describe(run)
    print(json.dumps({key: figures[key] for key in ("run", "epochs", "device", "duration", "window")}, indent=1))
    print(
        f"\nencoder: {figures['seconds_per_epoch']} s/epoch on {figures['device']} ({figures['window']['train_examples']} examples)"
    )
    print(f"model folder (for --encoder-dir): {run.artifact_path}")
    print(f"machine: {machine()}; total {time.perf_counter() - started:.0f}s")
    if args.json:
        Path(args.json).write_text(json.dumps({"encoder": figures}, indent=2, default=str))


def evaluate_trained_elsewhere(tenant, folder: Path, args):
    """An encoder run of this tenant whose training happened on another machine: its folder is
    copied in as the run's artifact, then re-embedding, evaluation and promotion as in a run."""
    import shutil

    from llmrec_django.learning.training import runs

    if not (folder / "config.json").is_file() or not (folder / "model.safetensors").is_file():
        raise SystemExit(f"{folder} is not an encoder run's folder (config.json and model.safetensors expected).")
    params = {"anchor": args.anchor, "history_items": args.history_items}
    run = runs.create_run(tenant, "encoder", params)
    artifact = runs.artifact_dir(run)
    shutil.copytree(folder, artifact, dirs_exist_ok=True)
    with running(run, stage="trained", artifact_path=str(artifact), device=(args.trained_on or "elsewhere")[:64]):
        runs.reembed_in_process(run)
        return runs.finish_run(run.pk)


@contextlib.contextmanager
def running(run, **fields):
    """The run recorded as running (with ``fields``) for the block; failed with the error if it raises."""
    from django.utils import timezone

    from llmrec_django.learning.training import runs
    from llmrec_django.models import TrainingRun

    TrainingRun.objects.filter(pk=run.pk).update(status=TrainingRun.Status.RUNNING, started_at=timezone.now(), **fields)
    run.refresh_from_db()
    try:
        yield run
    except Exception as exc:
        runs.fail(run.pk, f"{type(exc).__name__}: {exc}")
        raise


def describe(run) -> dict:
    run.refresh_from_db()
    return {
        "run": run.pk,
        "status": run.status,
        "promotion": run.promotion,
        "baseline": run.metrics.get("baseline"),
        "candidate": run.metrics.get("candidate"),
        "relative_gain": run.metrics.get("relative_gain"),
        "baseline_model": run.metrics.get("baseline_model"),
        "epochs": run.epochs,
        "seconds_per_epoch": [e["seconds"] for e in run.epochs],
        "device": run.device,
        "duration": run.duration_seconds,
        "window": run.data_window,
        "relative_gain_interval": run.metrics.get("relative_gain_interval"),
        "references": run.metrics.get("references"),
        "candidate_metrics": run.metrics.get("candidate_metrics"),
        "baseline_metrics": run.metrics.get("baseline_metrics"),
    }


if __name__ == "__main__":
    main()
