"""Model artifacts shared between machines through Django's storage API.

What fitting and training write (the collaborative model's ``.npz``, fine-tuned encoders and
re-rankers) is written on the local disk first, under ``LLMREC_HOME``, where the code that
writes it (numpy, ``save_pretrained``) wants a folder; then ``publish`` copies it to the
artifact storage under its path relative to ``LLMREC_HOME`` (``models/shop/als-....npz``,
``training/shop/encoder-12/...``), and the record keeps that name. Any process, on any machine,
turns a name back into a local path with ``local_path``: its own ``LLMREC_HOME/<name>`` when it
is there, else fetched from the storage first (a file, or every file under a folder), written
under a temporary name and renamed, so a reader never sees half a file. Artifacts never change
once written (their names carry a run id or a time), so a local copy never goes stale.

The storage is ``LLMREC["ARTIFACT_STORAGE"]``, an alias of Django's ``STORAGES``: unset, a
``FileSystemStorage`` rooted at ``LLMREC_HOME`` itself, so on one machine publishing copies
nothing; ``STORAGES["llmrec_artifacts"] = {"BACKEND": "storages.backends.s3.S3Storage", ...}``
(django-storages) with ``ARTIFACT_STORAGE = "llmrec_artifacts"`` shares them through any
S3-compatible store, and a ``FileSystemStorage`` on a shared mount through that mount.

Records written before artifacts were shared hold absolute paths; they resolve as before, and,
when missing here but inside this machine's ``LLMREC_HOME``, by their relative name.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path, PurePosixPath

from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages

from llmrec_django.conf import llmrec_settings

logger = logging.getLogger(__name__)

CHUNK = 8 * 1024 * 1024


class ArtifactMissing(FileNotFoundError):
    """Neither this machine nor the artifact storage holds the artifact."""


def storage() -> Storage:
    alias = llmrec_settings.ARTIFACT_STORAGE
    if alias:
        return storages[alias]
    return FileSystemStorage(location=str(llmrec_settings.home))


def _is_home_storage(store: Storage) -> bool:
    """The storage is this machine's LLMREC_HOME itself: nothing to copy either way."""
    if not isinstance(store, FileSystemStorage):
        return False
    return Path(store.location).resolve() == llmrec_settings.home.resolve()


def artifact_name(path: str | Path) -> str | None:
    """The storage name of a local path under ``LLMREC_HOME`` (POSIX, relative); None outside it."""
    try:
        relative = Path(path).resolve().relative_to(llmrec_settings.home.resolve())
    except ValueError:
        return None
    return relative.as_posix() if relative.parts else None


def _checked(name: str) -> PurePosixPath:
    name = str(name)
    pure = PurePosixPath(name)
    if not name or pure.is_absolute() or ".." in pure.parts or "\\" in name or "\x00" in name:
        raise ValueError(f"{name!r} is not an artifact name (a relative path inside LLMREC_HOME).")
    return pure


def publish(path: str | Path) -> str:
    """Copy the file or folder at ``path`` (under ``LLMREC_HOME``) to the artifact storage;
    returns what a record should keep: its name, or the absolute path when it lies outside
    ``LLMREC_HOME`` (it then stays on this machine, with a warning when sharing is configured)."""
    local = Path(path)
    name = artifact_name(local)
    if name is None:
        if llmrec_settings.ARTIFACT_STORAGE:
            logger.warning("%s lies outside LLMREC_HOME: it is not shared with other machines.", local)
        return str(local)
    store = storage()
    if _is_home_storage(store):
        return name
    files = [local] if local.is_file() else sorted(p for p in local.rglob("*") if p.is_file())
    if not files:
        raise ArtifactMissing(f"Nothing to publish at {local}.")
    for file in files:
        key = (PurePosixPath(name) / file.relative_to(local).as_posix()).as_posix() if file != local else name
        if store.exists(key):
            store.delete(key)  # an artifact written again under its name (a retried publish)
        with file.open("rb") as handle:
            saved = store.save(key, File(handle, name=file.name))
        if saved != key:
            raise RuntimeError(f"The artifact storage saved {key!r} as {saved!r}; artifact names must be kept.")
    logger.info("Published %s (%d file(s)) to the artifact storage.", name, len(files))
    return name


def local_path(reference: str | Path) -> Path:
    """A local path for an artifact reference (a name from ``publish``, or a path recorded before
    artifacts were shared), fetched from the storage when this machine lacks it."""
    text = str(reference)
    if os.path.isabs(text):
        path = Path(text)
        if path.exists():
            return path
        name = artifact_name(path)
        if name is None:
            raise ArtifactMissing(
                f"{path} is not on this machine, and lies outside LLMREC_HOME, so no artifact storage holds it."
            )
    else:
        name = _checked(text).as_posix()
        path = llmrec_settings.home / name
        if path.exists():
            return path
    store = storage()
    if _is_home_storage(store):
        raise ArtifactMissing(f"Artifact {name!r} is not in {llmrec_settings.home}.")
    _fetch(store, name, path)
    return path


def delete(reference: str | Path) -> None:
    """Remove an artifact from the storage and from this machine (a superseded model, or one
    holding the factors of users erased since). Other machines drop their copies with
    ``prune_local`` when they next load that kind of model."""
    text = str(reference)
    name = artifact_name(text) if os.path.isabs(text) else _checked(text).as_posix()
    local = Path(text) if os.path.isabs(text) else llmrec_settings.home / name
    if local.is_dir():
        shutil.rmtree(local, ignore_errors=True)
    else:
        local.unlink(missing_ok=True)
    if name is None:
        return
    store = storage()
    if _is_home_storage(store):
        return
    keys = [name] if store.exists(name) and not _is_folder(store, name) else list(_walk(store, name))
    for key in keys:
        store.delete(key)


def prune_local(folder: str, keep: set[str], *, min_age_seconds: float = 3600.0) -> int:
    """Delete this machine's copies under ``LLMREC_HOME/<folder>`` whose names are not in
    ``keep`` (artifact names or absolute paths, as records hold them) and that are older than
    ``min_age_seconds`` (a file written a moment ago may be one being published, its record not
    yet stored). Returns how many went."""
    root = llmrec_settings.home / _checked(folder).as_posix()
    if not root.is_dir():
        return 0
    kept = {artifact_name(k) if os.path.isabs(k) else k for k in keep}
    removed = 0
    now = time.time()
    for entry in root.iterdir():
        if entry.name.startswith(".") or artifact_name(entry) in kept:
            continue
        try:
            if now - entry.stat().st_mtime < min_age_seconds:
                continue
        except FileNotFoundError:
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed += 1
    return removed


def _fetch(store: Storage, name: str, target: Path) -> None:
    if store.exists(name) and not _is_folder(store, name):
        _download(store, name, target)
        return
    keys = list(_walk(store, name))
    if not keys:
        raise ArtifactMissing(f"Artifact {name!r} is neither on this machine nor in the artifact storage.")
    # A folder: fetched beside its final place, then renamed into it in one step.
    staging = target.parent / f".{target.name}.{uuid.uuid4().hex}.partial"
    try:
        for key in keys:
            _download(store, key, staging / PurePosixPath(key).relative_to(name))
        try:
            staging.rename(target)
        except OSError:
            if not target.exists():  # another process fetched it first: theirs is the same
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("Fetched %s (%d file(s)) from the artifact storage.", name, len(keys))


def _is_folder(store: Storage, name: str) -> bool:
    try:
        folders, files = store.listdir(name)
    except (FileNotFoundError, NotADirectoryError, OSError):
        return False
    return bool(folders or files)


def _walk(store: Storage, prefix: str):
    try:
        folders, files = store.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError, OSError):
        return
    for file in files:
        yield f"{prefix}/{file}"
    for folder in folders:
        yield from _walk(store, f"{prefix}/{folder}")


def _download(store: Storage, key: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as out, store.open(key, "rb") as source:
            while chunk := source.read(CHUNK):
                out.write(chunk)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
