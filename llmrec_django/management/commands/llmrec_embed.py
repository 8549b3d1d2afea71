"""Build a new embedding version of the catalogue (items, users, index) and switch it on.

python manage.py llmrec_embed                 # fan out to Celery workers, show progress
python manage.py llmrec_embed --sync          # everything in this process
python manage.py llmrec_embed --model /models/my-encoder --no-activate
"""

import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from llmrec_django import tasks
from llmrec_django.catalogue import embedding
from llmrec_django.management.commands._tenant import add_tenant_argument, tenant_from_options
from llmrec_django.ml.encoders import resolve_model_path
from llmrec_django.models import EmbeddingVersion, Item

POLL_SECONDS = 1.0


class Command(BaseCommand):
    help = "Embed the catalogue into a new embedding version and activate it."

    def add_arguments(self, parser):
        add_tenant_argument(parser)
        parser.add_argument("--model", help="Local model directory (default: LLMREC['ENCODER'] path).")
        parser.add_argument("--sync", action="store_true", help="Run in this process instead of on workers.")
        parser.add_argument("--no-activate", action="store_true", help="Build but leave the active version.")
        parser.add_argument("--no-wait", action="store_true", help="Queue the build and return at once.")

    def handle(self, *args, **options):
        tenant = tenant_from_options(options)
        model = options["model"]
        if model:
            try:
                model = str(resolve_model_path(model))
            except FileNotFoundError as exc:
                raise CommandError(str(exc)) from None
        activate = not options["no_activate"]
        started = time.perf_counter()
        if options["sync"]:
            total = Item.objects.for_tenant(tenant).count()
            bar = tqdm(total=total, desc="Embedding items", unit="item", disable=options["verbosity"] == 0)
            try:
                version = embedding.build_version_in_process(
                    tenant, model, activate=activate, progress=lambda done: _advance(bar, done)
                )
            except Exception as exc:
                raise CommandError(f"Embedding failed: {exc}") from exc
            finally:
                bar.close()
        else:
            try:
                version = tasks.start_build(tenant, model, activate=activate)
            except FileNotFoundError as exc:  # no encoder model (the default one not installed)
                raise CommandError(str(exc)) from None
            self.stdout.write(f"Queued embedding version {version.pk} ({version.items_total} items).")
            if options["no_wait"]:
                return
            version = self._wait(version, options["verbosity"])
        self._report(version, time.perf_counter() - started)

    def _wait(self, version: EmbeddingVersion, verbosity: int) -> EmbeddingVersion:
        bar = tqdm(total=version.items_total, desc="Embedding items", unit="item", disable=verbosity == 0)
        while True:
            version.refresh_from_db()
            _advance(bar, version.items_done)
            if version.status != EmbeddingVersion.Status.BUILDING:
                break
            time.sleep(POLL_SECONDS)
        bar.close()
        if version.status == EmbeddingVersion.Status.FAILED:
            raise CommandError(f"Embedding version {version.pk} failed: {version.error}")
        return version

    def _report(self, version: EmbeddingVersion, seconds: float) -> None:
        metrics = version.metrics
        self.stdout.write(
            self.style.SUCCESS(
                f"Version {version.pk} {version.status}: {version.items_done} items, {metrics.get('users', 0)} users, "
                f"{version.dimension}-d ({version.model_name}), index recall@10 vs exact "
                f"{metrics.get('recall_at_10')}, {seconds:.1f}s."
            )
        )


def _advance(bar, done: int) -> None:
    bar.update(max(done - bar.n, 0))
