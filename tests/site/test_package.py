"""The package as a site gets it: the wheel holds the app's code, migrations, templates and static
files and its licence; its dependencies are what ``scripts/setup`` installs; and a new Django
project (``startproject``) with the wheel in a virtual environment of its own, set up as the
README says, migrates, imports a catalogue, embeds it and serves lists, outside the example site.

The new environment gets the wheel (``--no-deps``) and, through a ``.pth`` file, the packages
of the environment running the tests (torch and the rest, too big to install again): a plain
path entry, so the editable install of this checkout there (a ``.pth`` hook) is not run, and
``llmrec_django`` is imported from the wheel, which the test checks.
"""

from __future__ import annotations

import email.parser
import json
import os
import re
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import llmrec_django
from tests.database_urls import database_url, scratch_database

ROOT = Path(__file__).resolve().parents[2]
# The extras scripts/setup installs for development (requirements.txt, tests/requirements.txt);
# "images" is for the image encoder to come, "s3" for an artifact storage on S3: not installed.
DEVELOPMENT_EXTRAS = {"embedded", "redis", "llm", "onnx", "test"}
EXTRAS = DEVELOPMENT_EXTRAS | {"images", "s3"}
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")


def run(command: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: int = 300) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(map(str, command))} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a copy of the checkout's top-level files and ``llmrec_django/`` (so
    the build leaves nothing in the checkout), without network or build isolation."""
    source = tmp_path_factory.mktemp("source")
    for entry in ROOT.iterdir():
        if entry.is_file():
            shutil.copy2(entry, source / entry.name)
    shutil.copytree(ROOT / "llmrec_django", source / "llmrec_django", ignore=IGNORED)
    dist = tmp_path_factory.mktemp("dist")
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", dist, source],
        cwd=source,
    )
    [built] = dist.glob("llmrec_django-*.whl")
    return built


def wheel_metadata(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        [name] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(archive.read(name).decode())


def test_the_wheel_holds_every_file_of_the_app_and_the_licence(wheel):
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    package = ROOT / "llmrec_django"
    expected = {
        path.relative_to(ROOT).as_posix()
        for path in package.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    missing = expected - in_wheel
    assert not missing, f"not in the wheel: {sorted(missing)}"
    for kind in ("migrations/0001_initial.py", "templates/llmrec_django/tags/", "static/llmrec_django/"):
        assert any(name.startswith(f"llmrec_django/{kind}") for name in in_wheel), kind
    assert not [n for n in in_wheel if n.startswith(("tests/", "example_site/", "bench/"))]
    assert f"llmrec_django-{llmrec_django.__version__}.dist-info/licenses/LICENSE" in in_wheel
    metadata = wheel_metadata(wheel)
    assert metadata["Version"] == llmrec_django.__version__
    assert metadata["License-Expression"] == "BSD-3-Clause"
    assert set(metadata.get_all("Provides-Extra")) == EXTRAS


def test_the_declared_dependencies_are_met_by_what_scripts_setup_installs(wheel):
    """Every dependency of the app and of its development extras is installed here in a version
    it accepts: the CPU build of torch (2.13.0+cpu) meets ``torch>=...``, so installing the
    package after it pulls no CUDA build."""
    from importlib.metadata import PackageNotFoundError, version

    unmet = []
    for line in wheel_metadata(wheel).get_all("Requires-Dist"):
        requirement = Requirement(line)
        if requirement.marker and not any(requirement.marker.evaluate({"extra": e}) for e in DEVELOPMENT_EXTRAS):
            continue
        try:
            installed = version(requirement.name)
        except PackageNotFoundError:
            installed = None
        if installed is None or not requirement.specifier.contains(installed, prereleases=True):
            unmet.append(f"{requirement} (installed: {installed})")
    assert not unmet, unmet


def test_the_test_extra_is_tests_requirements(wheel):
    def requirement_set(lines):
        return {(canonicalize_name(r.name), str(r.specifier)) for r in map(Requirement, lines)}

    listed = [
        line.strip()
        for line in (ROOT / "tests" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    extra = [
        line.split(";")[0]
        for line in wheel_metadata(wheel).get_all("Requires-Dist")
        if Requirement(line).marker and Requirement(line).marker.evaluate({"extra": "test"})
    ]
    assert requirement_set(extra) == requirement_set(listed)
    runtime = (ROOT / "requirements.txt").read_text()
    assert not {name for name, _ in requirement_set(listed)} & {
        canonicalize_name(Requirement(line).name)
        for line in runtime.splitlines()
        if line.strip() and not line.startswith("#")
    }, "a test tool in the runtime requirements"


# --- a new site with the wheel ---------------------------------------------------------------

ITEMS = [
    ("film-1", "Starship Nights", "A crew lost in deep space fights for its ship.", "films"),
    ("film-2", "Comet Harbour", "Space opera: starships, aliens and an epic galactic war.", "films"),
    ("film-3", "Orbit", "A cosy science fiction film about a station in orbit.", "films"),
    ("film-4", "Paris Apartment", "Romantic comedy: two strangers, one apartment in Paris.", "films"),
    ("shoe-1", "Trail Runner", "Lightweight trail running shoes with a grippy rubber sole.", "shoes"),
    ("shoe-2", "Road Racer", "Breathable mesh running shoes for the road.", "shoes"),
    ("shoe-3", "Hiking Boot", "Waterproof leather hiking boots with ankle support.", "shoes"),
    ("pan-1", "Frying Pan", "Non-stick frying pan, 28 cm, induction compatible.", "kitchen"),
    ("pan-2", "Chef Knife", "Stainless steel chef knife with an ergonomic handle.", "kitchen"),
    ("pan-3", "Tea Box", "Organic green tea, 100 bags, from Darjeeling.", "kitchen"),
]
EVENTS = [
    ("e1", "alice", "film-1", "like"),
    ("e2", "alice", "film-2", "purchase"),
    ("e3", "alice", "shoe-1", "view"),
    ("e4", "bob", "shoe-1", "like"),
    ("e5", "bob", "shoe-2", "purchase"),
    ("e6", "bob", "pan-1", "click"),
    ("e7", "carol", "film-1", "like"),
    ("e8", "carol", "film-3", "like"),
]

# What the site asks for once set up: a public API route through the whole stack (middleware,
# URLs, the schema of this API only) and a personal list from the service.
PROBE = """
import json
from django.test import Client
from llmrec_django.recommend import recommend_for_user
client = Client(HTTP_HOST="localhost")
similar = client.get("/api/llmrec/v1/items/film-1/similar/", {"k": 3})
schema = client.get("/api/llmrec/v1/schema/", {"format": "json"})
mine = recommend_for_user("alice", k=4)
print("PROBE" + json.dumps({
    "similar_status": similar.status_code, "similar": similar.json(),
    "schema_status": schema.status_code, "schema_paths": sorted(schema.json()["paths"]),
    "source": mine.source, "items": [item.external_id for item in mine.items],
}))
"""


WHERE = "import json, sys, llmrec_django; print(json.dumps([llmrec_django.__file__, sys.path]))"


def readme_block(first_line: str) -> str:
    """The README's code block that starts with ``first_line``."""
    blocks = re.findall(r"```(?:python|bash)\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    found = [block for block in blocks if block.startswith(first_line)]
    assert found, f"README.md has no code block starting with {first_line!r}"
    return found[0]


def readme_settings(encoder: Path, dimension: int) -> str:
    code = readme_block("# settings.py")
    # The README lists the apps to add to the project's own; the tiny encoder replaces its example path.
    assert "INSTALLED_APPS = [...," in code
    code = code.replace("INSTALLED_APPS = [...,", "INSTALLED_APPS = [*INSTALLED_APPS,")
    return (
        f"\n# llmrec-django, as its README says\n{code}\n"
        f'LLMREC = {{**LLMREC, "ENCODER": {{"OPTIONS": {{"path": {str(encoder)!r}}}}}, '
        f'"EMBEDDING_DIMENSION": {dimension}}}\n'
    )


def readme_urls() -> str:
    [line] = [line for line in readme_block("# urls.py").splitlines() if "include(" in line]
    return f"\nfrom django.urls import include\n\nurlpatterns += [{line.split('#')[0].strip()}]\n"


@pytest.fixture
def fresh_venv(tmp_path, wheel) -> Path:
    """A virtual environment of the base interpreter with the wheel, and this environment's
    site-packages as a plain path entry after its own."""
    venv = tmp_path / "venv"
    run([sys._base_executable, "-m", "venv", "--without-pip", venv], cwd=tmp_path)
    python = venv / "bin" / "python"
    run(
        [sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", wheel],
        cwd=tmp_path,
    )
    [own] = (venv / "lib").glob("python*/site-packages")
    (own / "development-packages.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return python


def test_a_new_site_with_the_wheel_migrates_imports_embeds_and_serves(
    fresh_venv, tmp_path, tiny_encoder_dir, django_db_setup, django_db_blocker
):
    from llmrec_django.ml.encoders import model_dimension

    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "CELERY_", "LLMREC_", "PYTHON")) and name != "DATABASE_URL"
    }
    env["LLMREC_HOME"] = str(tmp_path / "home")
    where = run([fresh_venv, "-c", WHERE], cwd=tmp_path, env=env)
    module_file, path = json.loads(where)
    assert Path(module_file).is_relative_to(fresh_venv.parent.parent), module_file
    assert str(ROOT) not in path, path

    project = tmp_path / "site"
    project.mkdir()
    run([fresh_venv, "-m", "django", "startproject", "bookshop", project], cwd=tmp_path, env=env)
    with (project / "bookshop" / "settings.py").open("a") as settings:
        settings.write(readme_settings(tiny_encoder_dir, model_dimension(tiny_encoder_dir)))
    with (project / "bookshop" / "urls.py").open("a") as urls:
        urls.write(readme_urls())
    (project / "items.csv").write_text(
        "external_id,title,description,category,attributes\n"
        + "".join(f'{i},{t},"{d}",{c},{{}}\n' for i, t, d, c in ITEMS)
    )
    (project / "events.csv").write_text(
        "event_id,user_id,item_id,event_type,value,timestamp\n"
        + "".join(f"{e},{u},{i},{kind},,\n" for e, u, i, kind in EVENTS)
    )

    with django_db_blocker.unblock(), scratch_database("llmrec_package") as name:
        env["DATABASE_URL"] = database_url(name)
        manage = [fresh_venv, "manage.py"]
        migrated = run([*manage, "migrate", "--noinput"], cwd=project, env=env)
        assert "Applying llmrec_django.0001_initial... OK" in migrated
        run([*manage, "check", "--fail-level", "ERROR"], cwd=project, env=env)
        imported = run(
            [*manage, "llmrec_import", "--items", "items.csv", "--events", "events.csv"], cwd=project, env=env
        )
        assert f"{len(ITEMS)} read, {len(ITEMS)} created" in imported and f"{len(EVENTS)} created" in imported
        assert imported.count(" 0 bad") == 2, imported
        embedded = run([*manage, "llmrec_embed", "--sync"], cwd=project, env=env)
        assert re.search(rf"Version \d+ active: {len(ITEMS)} items, 3 users", embedded), embedded
        probe = run([*manage, "shell", "-c", PROBE], cwd=project, env=env)

    [line] = [line for line in probe.splitlines() if line.startswith("PROBE")]
    answer = json.loads(line.removeprefix("PROBE"))
    assert answer["similar_status"] == 200, answer
    similar = [item["external_id"] for item in answer["similar"]["items"]]
    assert len(similar) == 3 and "film-1" not in similar and set(similar) <= {i for i, *_ in ITEMS}
    assert answer["schema_status"] == 200
    assert answer["schema_paths"] and all(p.startswith("/api/llmrec/v1/") for p in answer["schema_paths"])
    bought = {item for _, user, item, kind in EVENTS if user == "alice" and kind == "purchase"}
    assert answer["source"] == "hybrid", answer
    assert len(answer["items"]) == 4 and not bought & set(answer["items"]), answer  # not offered again
