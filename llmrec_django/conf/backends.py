"""Loads the pluggable backends named in ``LLMREC`` (dotted paths), once per process.

``get_encoder()`` returns the configured text encoder, ``get_copy_generator()`` the configured
recommendation copy generator. A backend whose path does not import
raises ``ImproperlyConfigured`` naming the setting, so a typo is caught at start-up by the
system checks rather than at the first request. Backends moved by a release keep their old dotted
paths (``MOVED``), so a site's settings (and experiment arms stored in the database) keep working.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from llmrec_django.conf import llmrec_settings

_lock = threading.Lock()
_instances: dict[str, Any] = {}

# Old module -> the module it moved to (0.1: the package was split into layers).
MOVED = {
    "llmrec_django.encoders": "llmrec_django.ml.encoders",
    "llmrec_django.encoders.base": "llmrec_django.ml.encoders.base",
    "llmrec_django.encoders.transformer": "llmrec_django.ml.encoders.transformer",
}


def _canonical(path: str) -> str:
    """A dotted path as it is today (moved backends' old paths mapped to their new ones)."""
    module, _, name = path.rpartition(".")
    return f"{MOVED.get(module, module)}.{name}"


def import_backend(path: str) -> Any:
    """``import_string`` for a backend's dotted path, old paths of moved backends included."""
    return import_string(_canonical(path))


def load_backend_class(setting: str) -> type:
    config = getattr(llmrec_settings, setting)
    path = config.get("BACKEND") if isinstance(config, dict) else None
    if not path:
        raise ImproperlyConfigured(f'LLMREC["{setting}"] must be a dict with a "BACKEND" dotted path.')
    try:
        return import_backend(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f'LLMREC["{setting}"]["BACKEND"] = {path!r} does not import: {exc}') from exc


def backend_options(setting: str) -> dict[str, Any]:
    return dict(getattr(llmrec_settings, setting).get("OPTIONS") or {})


def get_backend(setting: str) -> Any:
    """The backend instance for ``setting``, built on first use and then shared."""
    instance = _instances.get(setting)
    if instance is None:
        with _lock:
            instance = _instances.get(setting)
            if instance is None:
                cls = load_backend_class(setting)
                instance = cls(**backend_options(setting))
                _instances[setting] = instance
    return instance


def get_encoder(path: str | None = None) -> Any:
    """The configured encoder; with ``path``, the same backend class loaded from that model path."""
    if path is None:
        return get_backend("ENCODER")
    key = f"ENCODER@{path}"
    instance = _instances.get(key)
    if instance is None:
        with _lock:
            cls = load_backend_class("ENCODER")
            instance = _instances[key] = cls(**{**backend_options("ENCODER"), "path": path})
    return instance


TEMPLATE_COPY_GENERATOR = "llmrec_django.copywriting.TemplateCopyGenerator"


def experiment_copy_generators() -> dict[str, dict[str, Any]]:
    """The copy generators an experiment arm may name (dotted path -> options): the configured
    one, the template, and those the site lists in ``LLMREC["COPY"]["EXPERIMENT_GENERATORS"]``."""
    config = llmrec_settings.COPY
    allowed: dict[str, dict[str, Any]] = {TEMPLATE_COPY_GENERATOR: {}}
    listed = config.get("EXPERIMENT_GENERATORS") or {}
    for path, options in listed.items() if isinstance(listed, dict) else ():
        allowed[_canonical(path)] = dict(options) if isinstance(options, dict) else {}
    if config.get("BACKEND"):
        allowed[_canonical(config["BACKEND"])] = backend_options("COPY")
    return allowed


def check_experiment_copy_generator(path: str) -> None:
    """Refuses (``ImproperlyConfigured``) a copy generator an experiment arm may not name."""
    allowed = experiment_copy_generators()
    if _canonical(path) not in allowed:
        raise ImproperlyConfigured(
            f"Copy generator {path!r} is not one an experiment may use: name "
            f"{' or '.join(sorted(allowed))}, or list it in LLMREC['COPY']['EXPERIMENT_GENERATORS']."
        )


def get_copy_generator(path: str | None = None) -> Any:
    """The configured copy generator (``LLMREC["COPY"]``), built once per process; with ``path``
    (an experiment arm's), that generator built with its options from ``experiment_copy_generators``.
    A path the site has not allowed is refused before anything is imported."""
    if path is None:
        return get_backend("COPY")
    check_experiment_copy_generator(path)
    path = _canonical(path)
    if path == _canonical(llmrec_settings.COPY.get("BACKEND") or ""):
        return get_backend("COPY")
    key = f"COPY@{path}"
    instance = _instances.get(key)
    if instance is None:
        try:
            cls = import_backend(path)
        except ImportError as exc:
            raise ImproperlyConfigured(f"Copy generator {path!r} does not import: {exc}") from exc
        with _lock:
            instance = _instances.setdefault(key, cls(**experiment_copy_generators()[path]))
    return instance


def reset() -> None:
    """Forget loaded backends (settings changed, or a new model was promoted)."""
    with _lock:
        _instances.clear()


def _settings_changed(*args: Any, setting: str, **kwargs: Any) -> None:
    if setting == "LLMREC":  # override_settings in tests, or a site changing LLMREC at run time
        reset()


setting_changed.connect(_settings_changed)
