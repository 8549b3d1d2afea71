"""Fine-tune the encoder or the CTR re-ranker on a tenant's interactions, and manage the runs.

python manage.py llmrec_train encoder                       # train, re-embed, evaluate, promote if better
python manage.py llmrec_train reranker --epochs 1 --set negatives_per_positive=4
python manage.py llmrec_train encoder --queue               # on a GPU worker (queue LLMREC QUEUES["train"])
python manage.py llmrec_train encoder --manual              # evaluate, then wait for `promote`
python manage.py llmrec_train promote RUN_ID | rollback RUN_ID | list

Several GPUs (data parallel, one process per GPU; rank 0 records the run)::

    torchrun --nproc_per_node 4 manage.py llmrec_train encoder
"""

from django.core.management.base import BaseCommand, CommandError

from llmrec_django.learning.training import promotion, runs
from llmrec_django.learning.training.config import parse_value, run_params
from llmrec_django.management.commands._tenant import add_tenant_argument, tenant_from_options
from llmrec_django.ml.training.loop import init_distributed
from llmrec_django.models import TrainingRun


class Command(BaseCommand):
    help = "Fine-tune the encoder or the CTR re-ranker on the tenant's interactions (or promote / roll back a run)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["encoder", "reranker", "promote", "rollback", "list"])
        parser.add_argument("run_id", nargs="?", type=int, help="promote / rollback: the training run's id.")
        add_tenant_argument(parser)
        parser.add_argument("--epochs", type=int, help="Epochs (LLMREC TRAINING COMMON epochs).")
        parser.add_argument("--batch-size", type=int)
        parser.add_argument("--lr", type=float, help="Learning rate.")
        parser.add_argument("--device", help="auto, cpu, cuda, cuda:1 ...")
        parser.add_argument(
            "--set", action="append", default=[], metavar="KEY=VALUE", help="Any training parameter (repeatable)."
        )
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--auto-promote", action="store_true", help="Promote when better (overrides AUTO_PROMOTE).")
        mode.add_argument("--manual", action="store_true", help="Only evaluate; an admin promotes.")
        parser.add_argument("--queue", action="store_true", help="Send the run to the training queue and return.")

    def handle(self, *args, **options):
        action = options["action"]
        if action in ("promote", "rollback"):
            return self._promotion(action, options["run_id"])
        tenant = tenant_from_options(options)
        if action == "list":
            return self._list(tenant)
        overrides = self._overrides(options)
        if options["queue"]:
            run = runs.enqueue_run(tenant, action, overrides)
            self.stdout.write(f"Queued {action} run {run.pk} (task {run.task_id or 'eager'}).")
            return
        self._train(tenant, action, overrides, options)

    def _overrides(self, options) -> dict:
        overrides = {}
        for key, option in (
            ("epochs", "epochs"),
            ("batch_size", "batch_size"),
            ("learning_rate", "lr"),
            ("device", "device"),
        ):
            if options.get(option) is not None:
                overrides[key] = options[option]
        for item in options["set"]:
            key, sep, raw = item.partition("=")
            if not sep or not key.strip():
                raise CommandError(f"--set takes KEY=VALUE, not {item!r}.")
            overrides[key.strip()] = parse_value(raw)
        return overrides

    def _train(self, tenant, kind, overrides, options) -> None:
        try:
            params = run_params(kind, overrides)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        dist_info = init_distributed(str(params.get("device", "auto")))
        if not dist_info.is_main:
            # Other data-parallel ranks train their shard; rank 0 records, saves and promotes.
            runs.train_on_ranks(tenant, kind, params, dist_info=dist_info)
            return
        run = runs.create_run(tenant, kind, overrides)
        self.stdout.write(f"{kind} run {run.pk}: training on tenant {tenant.slug} ...")
        auto = True if options["auto_promote"] else False if options["manual"] else None
        try:
            run = runs.execute_run(run.pk, auto_promote=auto)
        except Exception as exc:
            run.refresh_from_db()
            raise CommandError(f"Run {run.pk} failed: {exc}") from exc
        for epoch in run.epochs:
            self.stdout.write("  epoch " + ", ".join(f"{k} {v}" for k, v in epoch.items() if k != "epoch") + "")
        metrics = run.metrics
        self.stdout.write(
            f"Run {run.pk} {run.status} on {run.device} in {run.duration_seconds:.0f}s; model at {run.artifact_path}.\n"
            f"{metrics.get('metric')}: candidate {metrics.get('candidate'):.4f} vs {metrics.get('baseline_model')} "
            f"{metrics.get('baseline'):.4f}: {promotion.describe_gain(metrics)} -> {run.get_promotion_display()}"
        )
        if blend := promotion.describe_blend(metrics):
            self.stdout.write(f"With it: {blend}.")
        if run.promotion == TrainingRun.Promotion.PENDING:
            self.stdout.write(f"Promote it with: manage.py llmrec_train promote {run.pk}")

    def _promotion(self, action, run_id) -> None:
        if run_id is None:
            raise CommandError(f"{action} needs a run id (see `llmrec_train list`).")
        run = TrainingRun.objects.filter(pk=run_id).first()
        if run is None:
            raise CommandError(f"No training run {run_id}.")
        try:
            run = promotion.promote(run) if action == "promote" else promotion.rollback(run)
        except promotion.PromotionError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Run {run.pk}: {run.get_promotion_display()}.")

    def _list(self, tenant) -> None:
        for run in TrainingRun.objects.for_tenant(tenant)[:50]:
            metrics = run.metrics or {}
            gain = metrics.get("relative_gain")
            self.stdout.write(
                f"{run.pk:>5} {run.kind:<9} {run.status:<10} {run.promotion or '-':<12} "
                f"{metrics.get('metric', '')} {metrics.get('candidate', '')} "
                f"{'' if gain is None else f'({gain:+.1%})'} {run.created_at:%Y-%m-%d %H:%M}"
            )
