"""Scale-out beyond one machine: embedding work fanned out over two Celery workers that stand for
two machines, each with its own LLMREC_HOME, sharing only the broker, the database and the
artifact storage. The catalogue is re-embedded with a fine-tuned encoder that only the training
machine (this test process) ever had on its disk: each worker fetches it from the storage, the
chunks are split between them, and every vector is the one the encoder gives."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from llmrec_django.catalogue import embedding
from llmrec_django.database import artifacts, vectorstore
from llmrec_django.ml.encoders import model_dimension
from llmrec_django.models import EmbeddingVersion, ItemVector
from llmrec_django.queues import all_queues
from tests.broker_helpers import ROOT, wait_until
from tests.database_urls import database_url
from tests.recommend_helpers import make_item

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]
ITEMS = 40  # 20 chunks of 2


@pytest.fixture
def shared_storage(artifact_storage, tmp_path, settings, monkeypatch):
    """This process is the training machine: its own home, and the shared storage."""
    settings.LLMREC = {**settings.LLMREC, "EMBED_CHUNK_SIZE": 2}
    monkeypatch.setenv("LLMREC_HOME", str(tmp_path / "training-machine"))
    return artifact_storage


def _start_worker(name, home, broker, store, encoder_dir, log_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.fanout_worker_settings",
        "PYTHONPATH": str(ROOT),
        "LLMREC_HOME": str(home),
        "DATABASE_URL": database_url(),
        "LLMREC_FANOUT_BROKER_URL": broker.url,
        "LLMREC_FANOUT_STORAGE": str(store),
        "LLMREC_FANOUT_ENCODER": str(encoder_dir),
        "LLMREC_FANOUT_DIMENSION": str(model_dimension(encoder_dir)),
    }
    command = [
        sys.executable, "-m", "celery", "-A", "example_site", "worker", "-Q", ",".join(all_queues()),
        "--pool", "solo", "--hostname", f"{name}@%h", "--loglevel", "INFO",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    log = open(log_path, "a")  # noqa: SIM115 - the process writes it until stopped
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def test_two_machines_share_a_re_embed_with_a_model_only_the_storage_holds(
    tenant, tiny_encoder, tiny_encoder_dir, shared_storage, broker, broker_app, tmp_path
):
    items = [make_item(tenant, f"i{n}", f"Trail shoe {n}, waterproof, size {40 + n % 8}") for n in range(ITEMS)]
    trained = artifacts.publish(
        shutil.copytree(tiny_encoder_dir, tmp_path / "training-machine" / "training" / "encoder-1")
    )
    assert trained == "training/encoder-1"
    homes = {name: tmp_path / name for name in ("web-1", "web-2")}
    workers = {
        name: _start_worker(name, home, broker, shared_storage, tiny_encoder_dir, tmp_path / f"{name}.log")
        for name, home in homes.items()
    }
    try:
        # Both ready before any work is sent, so that both can take chunks.
        wait_until(lambda: all("ready." in (tmp_path / f"{n}.log").read_text() for n in homes), seconds=120)
        version = embedding.start_build(tenant, trained)
        wait_until(lambda: EmbeddingVersion.objects.get(pk=version.pk).status != "building", seconds=180)
    finally:
        for process in workers.values():
            process.terminate()
        for process in workers.values():
            process.wait(timeout=30)
    logs = {name: (tmp_path / f"{name}.log").read_text() for name in homes}
    version.refresh_from_db()
    assert version.status == EmbeddingVersion.Status.ACTIVE, (version.error, logs)
    assert version.model_path == trained
    # Each machine fetched the model into its own home and embedded part of the catalogue.
    done = {name: log.count("embed_item_range[") for name, log in logs.items()}
    for name, home in homes.items():
        assert (home / trained / "config.json").is_file(), logs[name][-2000:]
    assert all(count > 0 for count in done.values()), done
    # Every item has its one vector, the one the trained encoder gives it.
    assert ItemVector.objects.filter(version=version).count() == ITEMS
    some = items[:: ITEMS // 4]
    stored = vectorstore.item_vectors(version, [item.pk for item in some])
    expected = embedding.encoder_for(version).encode([embedding.item_text(item) for item in some])
    np.testing.assert_allclose(np.stack([stored[item.pk] for item in some]), expected, rtol=1e-4, atol=1e-5)
