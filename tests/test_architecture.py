"""The layering (docs/architecture.md): imports point down one stack, checked by import-linter with
the contracts in pyproject.toml, function-local imports included; and every documented import path
keeps working."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))


def lint_imports(project: Path) -> subprocess.CompletedProcess:
    """lint-imports run in ``project`` (its pyproject.toml), with that folder first on the path."""
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache"],
        cwd=project,
        env={"PATH": str(Path(sys.executable).parent), "PYTHONPATH": str(project)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_package_keeps_its_import_contracts():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "statement", "contract"),
    [
        # an upward import inside a function: the core calling the tasks module
        ("core/splits.py", "def _probe():\n    from llmrec_django import tasks\n\n    return tasks\n", "Layers"),
        # the core reaching for Django, inside a function
        ("core/metrics.py", "def _probe():\n    from django.conf import settings\n\n    return settings\n", "core is"),
        # two modules of one package importing each other, one of them inside a function
        (
            "recommend/state.py",
            "def _probe():\n    from llmrec_django.recommend import lists\n\n    return lists\n",
            "No import cycle",
        ),
    ],
)
def test_a_violation_inside_a_function_breaks_a_contract(tmp_path, module, statement, contract):
    shutil.copytree(ROOT / "llmrec_django", tmp_path / "llmrec_django", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with open(tmp_path / "llmrec_django" / module, "a", encoding="utf-8") as source:
        source.write("\n\n" + statement)
    result = lint_imports(tmp_path)
    assert result.returncode != 0, result.stdout
    broken = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
    assert any(line.startswith(contract) for line in broken), result.stdout


# What the README and docs/ tell a site to import, and the dotted paths a site's settings name.
DOCUMENTED = [
    ("llmrec_django.recommend", ["recommend_for_user", "similar_items", "search", "RecommendationList"]),
    ("llmrec_django.database", ["database_config", "llmrec_home"]),
    ("llmrec_django.queues", ["celery_settings", "route_task", "all_queues"]),
    ("llmrec_django.conf", ["llmrec_settings"]),
    (
        "llmrec_django.tasks",
        ["schedule_retraining", "drain_outbox", "attribute_events", "generate_copy", "start_build"],
    ),
    ("llmrec_django.api.urls", ["urlpatterns"]),
    ("llmrec_django.api.middleware", ["ApiErrorMiddleware"]),
    (
        "llmrec_django.copywriting",
        ["TemplateCopyGenerator", "TransformersCopyGenerator", "OpenAICompatibleCopyGenerator"],
    ),
    ("llmrec_django.ml.encoders", ["TransformerEncoder"]),
    ("llmrec_django.catalogue.importing", ["import_files", "import_items", "import_events"]),
    ("llmrec_django.learning.evaluation", ["EvaluationOptions", "evaluate_tenant"]),
    ("llmrec_django.models", ["Item", "UserProfile", "Interaction", "EmbeddingVersion"]),
]


@pytest.mark.parametrize(("module", "names"), DOCUMENTED)
def test_documented_import_paths_work(module, names):
    imported = importlib.import_module(module)
    missing = [name for name in names if not hasattr(imported, name)]
    assert not missing, f"{module} lacks {missing}"


def test_the_old_dotted_path_of_the_encoder_still_loads_it():
    from llmrec_django.conf.backends import import_backend
    from llmrec_django.ml.encoders import TransformerEncoder

    assert import_backend("llmrec_django.encoders.TransformerEncoder") is TransformerEncoder
    assert import_backend("llmrec_django.ml.encoders.TransformerEncoder") is TransformerEncoder
    with pytest.raises(ImportError):
        import_backend("llmrec_django.encoders.NoSuchEncoder")
