"""Model artifacts shared between machines through Django's storage API: a model written and
published on one machine (its own LLMREC_HOME) is fetched and used on another with a home of its
own, through a shared storage (here a FileSystemStorage on a folder both see, as a shared mount
or an S3 bucket through django-storages would be)."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from llmrec_django.conf import checks as conf_checks
from llmrec_django.database import artifacts


class Machines:
    """Two machines' homes and the storage they share; ``on(name)`` makes one the current one."""

    def __init__(self, root: Path, monkeypatch):
        self.homes = {name: root / name for name in ("gpu", "web")}
        for home in self.homes.values():
            home.mkdir()
        self.shared = root / "shared-store"
        self.monkeypatch = monkeypatch

    def on(self, name: str) -> Path:
        self.monkeypatch.setenv("LLMREC_HOME", str(self.homes[name]))
        return self.homes[name]


@pytest.fixture
def machines(artifact_storage, tmp_path, monkeypatch):
    return Machines(tmp_path, monkeypatch)


def _model_folder(home: Path) -> Path:
    folder = home / "training" / "shop" / "encoder-12"
    (folder / "tokenizer").mkdir(parents=True)
    (folder / "config.json").write_text('{"hidden_size": 8}')
    (folder / "model.safetensors").write_bytes(bytes(range(256)) * 1000)
    (folder / "tokenizer" / "vocab.txt").write_text("[PAD]\n[UNK]\nboot\n")
    return folder


def test_a_folder_published_on_one_machine_is_fetched_whole_on_another(machines):
    gpu = machines.on("gpu")
    name = artifacts.publish(_model_folder(gpu))
    assert name == "training/shop/encoder-12"
    assert (machines.shared / name / "tokenizer" / "vocab.txt").read_text() == "[PAD]\n[UNK]\nboot\n"

    web = machines.on("web")
    folder = artifacts.local_path(name)
    assert folder == web / name
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "config.json",
        "model.safetensors",
        "tokenizer/vocab.txt",
    ]
    assert (folder / "model.safetensors").read_bytes() == bytes(range(256)) * 1000
    assert not list(folder.parent.glob(".*partial*"))  # nothing half-written left behind
    # Fetched once: the local copy serves even with the storage gone.
    shutil.rmtree(machines.shared)
    assert artifacts.local_path(name) == folder


def test_a_file_and_a_path_recorded_before_sharing_resolve_on_another_machine(machines):
    gpu = machines.on("gpu")
    path = gpu / "models" / "shop" / "als-1.npz"
    path.parent.mkdir(parents=True)
    np.savez(path, item_ids=np.arange(5))
    assert artifacts.publish(path) == "models/shop/als-1.npz"
    web = machines.on("web")
    with np.load(artifacts.local_path("models/shop/als-1.npz")) as data:
        assert data["item_ids"].tolist() == [0, 1, 2, 3, 4]
    # An absolute path a record kept before artifacts were shared: inside this machine's home,
    # it is fetched by its relative name; elsewhere it can only be a clear error.
    legacy = web / "models" / "shop" / "als-1.npz"
    legacy.unlink()
    assert artifacts.local_path(str(legacy)) == legacy and legacy.is_file()
    with pytest.raises(artifacts.ArtifactMissing, match="not on this machine, and lies outside LLMREC_HOME"):
        artifacts.local_path("/somewhere/else/als-1.npz")
    with pytest.raises(artifacts.ArtifactMissing, match="neither on this machine nor in the artifact storage"):
        artifacts.local_path("models/shop/als-2.npz")


def test_without_a_shared_storage_home_is_the_storage_and_nothing_is_copied(tmp_path, monkeypatch, settings):
    monkeypatch.setenv("LLMREC_HOME", str(tmp_path))
    folder = _model_folder(tmp_path)
    assert artifacts.publish(folder) == "training/shop/encoder-12"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["training"]  # no second copy
    assert artifacts.local_path("training/shop/encoder-12") == folder
    outside = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    outside.mkdir()
    assert artifacts.publish(outside) == str(outside)  # outside the home: kept by its path
    with pytest.raises(artifacts.ArtifactMissing):
        artifacts.local_path("training/shop/encoder-13")


def test_two_processes_fetching_the_same_folder_both_get_it_whole(machines):
    name = artifacts.publish(_model_folder(machines.on("gpu")))
    web = machines.on("web")
    results, errors = [], []

    def fetch():
        try:
            results.append(artifacts.local_path(name))
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and set(results) == {web / name}
    assert (web / name / "model.safetensors").stat().st_size == 256_000


@hypothesis_settings(max_examples=150, deadline=None)
@given(st.text(max_size=30))
def test_a_name_never_reaches_outside_the_home(tmp_path_factory, name):
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LLMREC_HOME", str(home))
        try:
            path = artifacts.local_path(name)
        except (ValueError, artifacts.ArtifactMissing):
            return
    # Only an absolute path that exists (a recorded one) or something inside the home resolves.
    assert Path(path).is_absolute() and (Path(path).exists())


def test_the_storage_setting_must_name_one_of_django_storages(settings):
    assert conf_checks.check_artifact_storage() == []
    settings.LLMREC = {**settings.LLMREC, "ARTIFACT_STORAGE": "s3"}
    assert [e.id for e in conf_checks.check_artifact_storage()] == ["llmrec.E024"]


def test_a_fine_tuned_encoder_version_encodes_alike_on_a_machine_that_never_had_its_folder(
    machines, tenant, tiny_encoder, tiny_encoder_dir
):
    from llmrec_django.catalogue import embedding
    from llmrec_django.conf import backends

    gpu = machines.on("gpu")
    trained = gpu / "training" / tenant.slug / "encoder-1"
    shutil.copytree(tiny_encoder_dir, trained)
    name = artifacts.publish(trained)
    version = embedding.create_build(tenant, name)
    assert version.model_path == name  # the record keeps the name every machine resolves
    texts = ["waterproof hiking boots", "a quiet film about the sea"]
    on_gpu = embedding.encoder_for(version).encode(texts)

    backends.reset()
    web = machines.on("web")
    assert not (web / name).exists()
    on_web = embedding.encoder_for(version).encode(texts)
    assert (web / name / "config.json").is_file()
    np.testing.assert_allclose(on_web, on_gpu, rtol=1e-5, atol=1e-6)
    assert embedding.user_tower_of(version) is None  # no tower saved with this one: none, no error


def test_deleting_an_artifact_removes_it_from_the_storage_and_other_machines_prune_their_copies(machines):
    gpu = machines.on("gpu")
    models = gpu / "models" / "shop"
    models.mkdir(parents=True)
    for n in (1, 2):
        np.savez(models / f"als-{n}.npz", item_ids=np.arange(n))
    old, new = (artifacts.publish(models / f"als-{n}.npz") for n in (1, 2))
    web = machines.on("web")
    artifacts.local_path(old), artifacts.local_path(new)  # the web machine loaded both once

    machines.on("gpu")
    artifacts.delete(old)  # e.g. it held the factors of a user erased since
    assert not (gpu / old).exists() and not (machines.shared / old).exists()
    assert (machines.shared / new).is_file()

    machines.on("web")
    assert artifacts.prune_local("models/shop", keep={new}) == 0  # too recent: maybe being published
    assert artifacts.prune_local("models/shop", keep={new}, min_age_seconds=0) == 1
    assert not (web / old).exists() and (web / new).is_file()
    with pytest.raises(artifacts.ArtifactMissing):
        artifacts.local_path(old)


def test_a_collaborative_model_fitted_on_one_machine_serves_on_another(machines, tenant):
    from llmrec_django.catalogue import collaborative
    from llmrec_django.models import Interaction, UserProfile
    from tests.recommend_helpers import make_item

    items = [make_item(tenant, f"i{n}", f"Item {n}") for n in range(6)]
    for u in range(6):
        user = UserProfile.objects.create(tenant=tenant, external_id=f"u{u}")
        for i in (u % 3, (u + 1) % 3, 3 + u % 3):
            Interaction.objects.create(
                tenant=tenant, event_id=f"{u}-{i}", user=user, item=items[i], event_type="purchase"
            )
    gpu = machines.on("gpu")
    record = collaborative.fit_collaborative_model(tenant, factors=2, iterations=5)
    assert (machines.shared / record.path).is_file() and (gpu / record.path).is_file()
    on_gpu = collaborative.current_model(tenant)

    collaborative.clear_cache()
    web = machines.on("web")
    on_web = collaborative.current_model(tenant)
    assert on_web is not None and (web / record.path).is_file()
    np.testing.assert_array_equal(on_web.item_factors, on_gpu.item_factors)
    # The next fit supersedes it: gone from the storage; the web machine drops its copy on the
    # next load (once the copy is old enough not to be one being published).
    machines.on("gpu")
    newer = collaborative.fit_collaborative_model(tenant, factors=2, iterations=5)
    assert not (machines.shared / record.path).exists()
    machines.on("web")
    collaborative.clear_cache()
    assert collaborative.current_model(tenant) is not None and (web / newer.path).is_file()
    assert artifacts.prune_local(str(Path(record.path).parent), {newer.path}, min_age_seconds=0) == 1
    assert not (web / record.path).exists()
