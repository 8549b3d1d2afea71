"""The time of one full turn of the learning loop on the demo catalogue, stage by stage.

    python bench/learning_loop.py [--json OUT] [--runs 1]

As beat runs it (``llmrec_django.learning.loop``), in this process on this machine: refit the
ranking (``train_ranking``: the collaborative model with its tuning, the sequence models, the
blend) -> fine-tune the encoder (the demo's CPU recipe, ``LLMREC_CPU_DEMO_TRAINING=1``) ->
re-embed the catalogue into a new version -> evaluate it against the active one (both fitted
and ranked on the same split) -> fit the candidate's blend -> promote or keep the active model
-> refit the ranking for the version that serves (when one was switched on).

The demo catalogue (``example_site.shop.sample_catalogue``) is imported into a tenant of its own
(``bench-loop``) and embedded with the default encoder once; each turn starts from that base
version. The reference, measured in the same run: one build of the catalogue's embedding
version with the base encoder (what a plain ``llmrec_embed`` costs); the figure is the loop's
time as a multiple of it, with the absolute seconds of every stage and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TENANT = "bench-loop"


def setup_django() -> None:
    os.environ["LLMREC_CPU_DEMO_TRAINING"] = "1"  # the demo's fine-tuning, sized for a CPU
    os.environ.pop("CELERY_BROKER_URL", None)  # every task in this process: timed end to end
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_site.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def machine() -> str:
    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU only"
    return (
        f"{platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), {device}"
    )


def prepare() -> dict:
    """The tenant with the demo catalogue, and the reference: one build with the base encoder."""
    from django.core.management import call_command
    from django.utils import timezone

    from example_site.shop.sample_catalogue import write_sample_catalogue
    from llmrec_django.catalogue import embedding
    from llmrec_django.database import vectorstore
    from llmrec_django.models import Interaction, Item, Tenant

    tenant, _ = Tenant.objects.get_or_create(slug=TENANT, defaults={"name": "Learning loop benchmark (demo shop)"})
    if not Item.objects.for_tenant(tenant).exists():
        with tempfile.TemporaryDirectory() as folder:
            files = write_sample_catalogue(folder, ending=timezone.now())
            call_command(
                "llmrec_import",
                tenant=TENANT,
                items=str(files["items"]),
                users=str(files["users"]),
                relations=str(files["relations"]),
                events=str(files["events"]),
                verbosity=0,
            )
    started = time.perf_counter()
    base = embedding.build_version_in_process(tenant, activate=False, concurrently=False)
    reference = time.perf_counter() - started
    vectorstore.activate_version(base)
    return {
        "tenant": tenant,
        "base_version": base.pk,
        "items": Item.objects.for_tenant(tenant).count(),
        "events": Interaction.objects.for_tenant(tenant).count(),
        "reference_embed_seconds": round(reference, 2),
    }


def one_turn(tenant) -> dict:
    """Refit -> fine-tune, re-embed, evaluate, candidate blend, decision -> refit after a switch."""
    from llmrec_django import tasks
    from llmrec_django.learning.training import runs
    from llmrec_django.models import TrainingRun

    stages: dict[str, float] = {}
    started = time.perf_counter()
    tasks.train_ranking(tenant.pk)
    stages["refit"] = time.perf_counter() - started

    lap = time.perf_counter()
    run = runs.create_run(tenant, "encoder", {})
    run = runs.execute_run(run.pk, auto_promote=True)
    run = TrainingRun.objects.get(pk=run.pk)
    stages["fine-tune + re-embed + evaluate + decide"] = time.perf_counter() - lap
    stages["of which training epochs"] = sum(epoch.get("seconds", 0.0) for epoch in run.epochs)

    if run.promotion == TrainingRun.Promotion.ACTIVE:
        lap = time.perf_counter()
        tasks.train_ranking(tenant.pk)  # what loop.after_switch queues
        stages["refit for the promoted version"] = time.perf_counter() - lap
    total = time.perf_counter() - started
    return {
        "run": run.pk,
        "status": run.status,
        "error": run.error[:500],
        "promotion": run.promotion,
        "metric": run.metrics.get("metric"),
        "baseline": run.metrics.get("baseline"),
        "candidate": run.metrics.get("candidate"),
        "candidate_blend": (run.metrics.get("blend") or {}).get("id"),
        "refused": run.metrics.get("refused", ""),
        "stages_seconds": {name: round(seconds, 2) for name, seconds in stages.items()},
        "total_seconds": round(total, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1, help="Turns of the loop, each from the base version.")
    parser.add_argument("--json", help="Write every figure here.")
    parser.add_argument(
        "--promote",
        action="store_true",
        help="Guardrails off, so that a candidate better on the metric is switched on: times the candidate's "
        "blend, the switch and the refit after it (the path a promotion takes).",
    )
    args = parser.parse_args()
    setup_django()
    from django.conf import settings

    # The switch's refit is timed as its own stage here instead of queued.
    settings.LLMREC = {**settings.LLMREC, "LEARNING_LOOP": {"REFIT_AFTER_SWITCH": False}}
    if args.promote:
        settings.LLMREC = {
            **settings.LLMREC,
            "TRAINING": {
                **settings.LLMREC.get("TRAINING", {}),
                "GUARDRAILS": {"diversity@10": 1.0, "coverage@10": 1.0},
            },
        }  # 1.0: off
    from llmrec_django.database import vectorstore
    from llmrec_django.models import EmbeddingVersion

    setup = prepare()
    tenant = setup.pop("tenant")
    print(f"Demo catalogue: {setup['items']} items, {setup['events']} events; machine: {machine()}")
    print(f"Reference: one embedding build with the base encoder {setup['reference_embed_seconds']:.1f} s")
    turns = []
    for index in range(args.runs):
        vectorstore.activate_version(EmbeddingVersion.objects.get(pk=setup["base_version"]))
        turn = one_turn(tenant)
        turns.append(turn)
        ratio = turn["total_seconds"] / setup["reference_embed_seconds"]
        print(
            f"Turn {index + 1}: {turn['total_seconds']:.1f} s = {ratio:.1f}x one embedding build; run "
            f"{turn['run']} {turn['status']}, {turn['promotion']} ({turn['metric']} {turn['baseline']} -> "
            f"{turn['candidate']}; candidate blend {turn['candidate_blend']})"
        )
        for name, seconds in turn["stages_seconds"].items():
            print(f"    {name:<45} {seconds:8.1f} s")
        if turn["refused"]:
            print(f"    not promoted: {turn['refused']}")
        if turn["error"]:
            print(f"    error: {turn['error']}")
    if args.json:
        Path(args.json).write_text(json.dumps({**setup, "machine": machine(), "turns": turns}, indent=2, default=str))


if __name__ == "__main__":
    main()
