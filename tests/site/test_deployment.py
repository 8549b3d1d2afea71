"""The Docker stack (docker/docker-compose.yml, docker/Dockerfile, docker/healthcheck.py) as a team
runs it in production.

- Its structure, always: every app process on the production settings, no secret in the file,
  each queue of ``LLMREC["QUEUES"]`` consumed by exactly one worker service (the GPU queue by the
  GPU worker only, one task at a time), one beat on django-celery-beat's DatabaseScheduler, every
  long-running service health-checked and restarted, the migrations before the rest.
- ``docker compose config`` where a Compose v2 CLI is installed (skipped otherwise).
- The same processes without Docker: the compose file's own commands and environment, pointed at
  the test database and a Redis of the test's own, with the static files collected as the image
  does: gunicorn serves the health endpoint and the static files (WhiteNoise), each worker
  consumes its queue, beat sends the database's schedule, and every health check passes.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from tests.database_urls import database_url

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE_FILE = DOCKER / "docker-compose.yml"
SECRET_KEY = "k3-Qz7vT0pL9sXw2Rb8YcN4mH6jF1dGaUeKoIiPyVrBtZlMnSq5W"
HOST = "shop.example.com"
# What a team puts in docker/.env (docker/.env.example), for interpolating the file.
DOTENV = {
    "DJANGO_SECRET_KEY": SECRET_KEY,
    "DJANGO_ALLOWED_HOSTS": HOST,
    "POSTGRES_PASSWORD": "pg-secret-0123456789",
    "REDIS_PASSWORD": "redis-secret-0123456789",
}
REQUIRED_SECRETS = ("DJANGO_SECRET_KEY", "POSTGRES_PASSWORD", "REDIS_PASSWORD")
DATABASE_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"


def _load_healthcheck():
    spec = importlib.util.spec_from_file_location("docker_healthcheck", DOCKER / "healthcheck.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


healthcheck = _load_healthcheck()

# --------------------------------------------------------------------------------------------
# Reading the compose file as compose reads it.

_VARIABLE = re.compile(r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\})")


class MissingVariable(KeyError):
    pass


def interpolate(value, env: Mapping[str, str]):
    """Compose's interpolation of ``value`` (strings inside lists and mappings too): ``$$``,
    ``${NAME}``, ``${NAME:-default}``, ``${NAME-default}``, ``${NAME:?error}``, ``${NAME?error}``."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        current = env.get(name)
        missing = current is None or (current == "" and op is not None and op.startswith(":"))
        if op in (":-", "-") and missing:
            return arg
        if op in (":?", "?") and missing:
            raise MissingVariable(f"{name}: {arg}")
        return current or ""

    result = _VARIABLE.sub(replace, value)
    unreplaced = _VARIABLE.sub("", value)
    assert "${" not in unreplaced, f"an interpolation compose reads but this test does not: {value}"
    return result


def compose_file() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def services(env: Mapping[str, str] = DOTENV) -> dict[str, dict]:
    return interpolate(compose_file()["services"], env)


def argv(service: dict) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else list(command)


def option(arguments: list[str], *names: str) -> str | None:
    """The value of ``--name=value`` / ``--name value`` / ``-n value`` in ``arguments``."""
    for index, argument in enumerate(arguments):
        for name in names:
            if argument.startswith(name + "="):
                return argument.split("=", 1)[1]
            if argument == name and index + 1 < len(arguments):
                return arguments[index + 1]
    return None


def celery_role(service: dict) -> str | None:
    """``worker`` or ``beat`` for a service running Celery, else None."""
    arguments = argv(service)
    if arguments[:1] != ["celery"]:
        return None
    return next((word for word in arguments[1:] if word in ("worker", "beat")), None)


def app_services(all_services: dict[str, dict]) -> dict[str, dict]:
    return {name: service for name, service in all_services.items() if "build" in service}


def long_running(all_services: dict[str, dict]) -> dict[str, dict]:
    return {name: service for name, service in all_services.items() if service.get("restart") != "no"}


def worker_queues(all_services: dict[str, dict]) -> dict[str, list[str]]:
    return {
        name: option(argv(service), "--queues", "-Q").split(",")
        for name, service in all_services.items()
        if celery_role(service) == "worker"
    }


def uses_gpu(service: dict) -> bool:
    devices = service.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
    return any("gpu" in device.get("capabilities", []) for device in devices)


def site_queues() -> dict[str, str]:
    from llmrec_django.conf import llmrec_settings

    return dict(llmrec_settings.QUEUES)


# --------------------------------------------------------------------------------------------
# The file's structure.


def test_every_app_process_runs_the_production_settings():
    source = (ROOT / "example_site" / "settings_production.py").read_text()
    required = set(re.findall(r'_required\(\s*"([A-Z_]+)"', source))
    assert required >= {"DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DJANGO_CACHE_URL", "CELERY_BROKER_URL"}
    assert re.search(r"^DEBUG = False$", source, re.MULTILINE)
    app = app_services(services())
    assert {"migrate", "web", "beat"} <= set(app), set(app)
    for name, service in app.items():
        env = service["environment"]
        assert env["DJANGO_SETTINGS_MODULE"] == "example_site.settings_production", name
        assert required <= set(env), (name, required - set(env))
        assert env.get("DJANGO_DEBUG", "0") in {"0", "", "false"}, name
        assert urlsplit(env["DATABASE_URL"]).hostname == "db", name
        assert urlsplit(env["CELERY_BROKER_URL"]).hostname == "redis", name
        assert env["LLMREC_TRUSTED_PROXIES"] == "1", f"{name}: the TLS proxy in front is trusted"


def test_no_secret_is_written_in_the_file():
    raw = compose_file()["services"]
    for name, service in raw.items():
        values = {f"environment {key}": value for key, value in service.get("environment", {}).items()}
        arguments = argv(service)
        if "--requirepass" in arguments:
            values["--requirepass"] = option(arguments, "--requirepass")
        for what, value in values.items():
            value = str(value)
            if re.search(r"SECRET|PASSWORD|_KEY|TOKEN|AUTH|--requirepass", what):
                # Only the variable, no default: a secret is the team's own or nothing.
                assert re.fullmatch(r"\$\{[A-Z_]+(:?\?[^}]*)?\}", value), (name, what, value)
            credentials = re.search(r"://[^/@:]*:([^@]*)@", value)
            if credentials:
                assert re.fullmatch(r"\$\{[A-Z_]+(:?\?[^}]*)?\}", credentials.group(1)), (name, what, value)
    # A missing secret stops compose, naming it.
    for secret in REQUIRED_SECRETS:
        with pytest.raises(MissingVariable, match=secret):
            services({name: value for name, value in DOTENV.items() if name != secret})
    # The team's own values end up where the processes read them.
    env = services()["web"]["environment"]
    assert env["DJANGO_SECRET_KEY"] == SECRET_KEY
    assert urlsplit(env["DATABASE_URL"]).password == DOTENV["POSTGRES_PASSWORD"]
    for url in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "DJANGO_CACHE_URL"):
        assert urlsplit(env[url]).password == DOTENV["REDIS_PASSWORD"], url
    assert option(argv(services()["redis"]), "--requirepass") == DOTENV["REDIS_PASSWORD"]
    assert "docker/.env" in (ROOT / ".gitignore").read_text().split()
    assert "**/.env" in (ROOT / ".dockerignore").read_text().split(), "never copied into the image"


def test_each_queue_is_consumed_by_exactly_one_worker_service():
    all_services = services()
    consumers = worker_queues(all_services)
    queues = site_queues()
    for key, queue in queues.items():
        taking = [name for name, consumed in consumers.items() if queue in consumed]
        assert len(taking) == 1, f'LLMREC["QUEUES"]["{key}"] = {queue!r} is consumed by {taking}'
    unknown = {queue for consumed in consumers.values() for queue in consumed} - set(queues.values())
    assert not unknown, f"workers consume queues no task is routed to: {unknown}"

    gpu = next(name for name, consumed in consumers.items() if queues["train"] in consumed)
    assert consumers[gpu] == [queues["train"]], "the GPU worker takes fine-tuning only"
    assert [name for name in consumers if uses_gpu(all_services[name])] == [gpu]
    arguments = argv(all_services[gpu])
    # One run at a time, in the worker's own process (CUDA is never used in a forked child).
    assert option(arguments, "--pool", "-P") in {"threads", "solo"}
    assert option(arguments, "--concurrency", "-c") == "1"
    assert all_services[gpu]["deploy"]["resources"]["limits"]["memory"], "its host memory bounded"

    names = []
    for name in consumers:
        arguments = argv(all_services[name])
        assert option(arguments, "--prefetch-multiplier") == "1", name
        node = option(arguments, "--hostname", "-n")
        assert node and node.endswith("@%h"), (name, node)
        names.append(node.split("@")[0])
        # The health check pings this very worker (its container's hostname is %h).
        check = all_services[name]["healthcheck"]["test"]
        assert "inspect ping" in check[1] and f"{node.split('@')[0]}@$HOSTNAME" in check[1], (name, check)
    assert len(set(names)) == len(names), f"two worker services with one node name: {names}"


def test_one_beat_on_the_database_scheduler():
    from django.conf import settings

    beats = {name: service for name, service in services().items() if celery_role(service) == "beat"}
    assert len(beats) == 1, beats
    (beat,) = beats.values()
    assert option(argv(beat), "--scheduler", "-S") == DATABASE_SCHEDULER
    assert beat.get("deploy", {}).get("replicas", 1) == 1
    assert "django_celery_beat" in settings.INSTALLED_APPS
    assert beat["healthcheck"]["test"][:3] == ["CMD", "python", "docker/healthcheck.py"]
    assert "beat" in beat["healthcheck"]["test"]


def test_long_running_services_are_health_checked_and_restarted_after_the_migrations():
    all_services = services()
    running = long_running(all_services)
    assert set(running) >= {"db", "redis", "web", "beat", *worker_queues(all_services)}
    for name, service in running.items():
        assert service.get("restart") in {"unless-stopped", "always"}, name
        check = service.get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), f"{name} has no health check"
        assert check["test"][0] in {"CMD", "CMD-SHELL"}, name
    one_off = {name for name in all_services if name not in running}
    assert one_off == {"migrate"}, one_off
    migrate = argv(all_services["migrate"])
    assert "manage.py migrate --noinput" in " ".join(migrate)
    for name, service in app_services(all_services).items():
        needs = service.get("depends_on", {})
        assert needs.get("db", {}).get("condition") == "service_healthy", name
        assert needs.get("redis", {}).get("condition") == "service_healthy", name
        if name != "migrate":
            assert needs.get("migrate", {}).get("condition") == "service_completed_successfully", name
    web = all_services["web"]
    assert argv(web)[:2] == ["gunicorn", "example_site.wsgi"]
    assert web["healthcheck"]["test"] == ["CMD", "python", "docker/healthcheck.py", "web"]
    assert all(port.startswith("127.0.0.1:") for port in web["ports"]), "plain HTTP on loopback unless asked"
    for name in ("db", "redis"):
        assert "ports" not in all_services[name], f"{name} is reachable from the stack only"


def test_the_image_runs_unprivileged_with_its_static_files_collected():
    dockerfile = (DOCKER / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}, users
    assert re.search(r"^HEALTHCHECK .*docker/healthcheck\.py\", \"web\"", dockerfile, re.MULTILINE)
    collect = re.search(r"((?:[A-Z_]+=\S+\s+(?:\\\s+)?)+)python manage\.py collectstatic --noinput", dockerfile)
    assert collect, "collectstatic runs when the image is built"
    placeholders = dict(re.findall(r"([A-Z_]+)=(\S+)", collect.group(1)))
    assert placeholders["DJANGO_SETTINGS_MODULE"] == "example_site.settings_production"
    source = (ROOT / "example_site" / "settings_production.py").read_text()
    required = set(re.findall(r'_required\(\s*"([A-Z_]+)"', source))
    assert required <= set(placeholders), f"the build would stop on {required - set(placeholders)}"
    assert re.search(r"^ENV[^\n]*(\\\n[^\n]*)*DJANGO_STATIC_ROOT=/app/staticfiles", dockerfile, re.MULTILINE)


# --------------------------------------------------------------------------------------------
# The health checks' own logic.


@given(
    st.lists(
        st.one_of(
            st.just("*"),
            st.from_regex(r"\.?[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z]{2,6}){0,2}", fullmatch=True),
            st.from_regex(
                r"(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])){3}", fullmatch=True
            ),
        ),
        min_size=1,
        max_size=4,
    ),
    st.sampled_from([",", ", ", " ,"]),
)
def test_the_web_check_names_a_host_the_site_allows(hosts, separator):
    from django.http.request import validate_host

    chosen = healthcheck.request_host(separator.join(hosts))
    assert validate_host(chosen, hosts), (chosen, hosts)


@pytest.mark.django_db
def test_the_beat_check_wants_a_periodic_task_sent_lately():
    from datetime import timedelta

    from django.utils import timezone
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    now = timezone.now()
    assert "sent no enabled periodic task yet" in healthcheck.check_beat(600, now)
    every = IntervalSchedule.objects.create(every=10, period=IntervalSchedule.SECONDS)
    task = PeriodicTask.objects.create(name="outbox", task="llmrec_django.tasks.drain_outbox", interval=every)
    assert "sent no enabled periodic task yet" in healthcheck.check_beat(600, now), "never sent"
    PeriodicTask.objects.filter(pk=task.pk).update(last_run_at=now - timedelta(seconds=599))
    assert healthcheck.check_beat(600, now) is None
    PeriodicTask.objects.filter(pk=task.pk).update(last_run_at=now - timedelta(seconds=601))
    assert "no periodic task for 601 s" in healthcheck.check_beat(600, now)
    PeriodicTask.objects.create(
        name="off", task="llmrec_django.tasks.drain_outbox", interval=every, enabled=False, last_run_at=now
    )
    assert healthcheck.check_beat(600, now) is not None, "a disabled task says nothing about beat"


def test_the_health_check_refuses_a_nonsense_silence(capsys):
    with pytest.raises(SystemExit):
        healthcheck.main(["beat", "--max-silence=0"])
    assert "not a positive number" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# docker compose config, where a Compose v2 CLI is installed.


def compose_cli() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    standalone = shutil.which("docker-compose")
    if standalone:
        probe = subprocess.run([standalone, "version"], capture_output=True, text=True)
        if probe.returncode == 0 and re.search(r"version v?2\.", probe.stdout):  # v1 is another file format
            return [standalone]
    return None


def test_docker_compose_config_accepts_the_file(tmp_path):
    cli = compose_cli()
    if cli is None:
        pytest.skip("no Docker Compose v2 CLI here (`docker compose` or docker-compose v2)")
    env_file = tmp_path / "empty.env"  # not a developer's docker/.env
    env_file.write_text("")
    base = {name: value for name, value in os.environ.items() if name not in DOTENV}

    def config(*args: str, **env: str) -> subprocess.CompletedProcess:
        command = [*cli, "--env-file", str(env_file), "-f", str(COMPOSE_FILE), "config", *args]
        return subprocess.run(command, cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=60)

    result = config("--format", "json", **DOTENV)
    assert result.returncode == 0, result.stderr
    model = json.loads(result.stdout)
    assert set(model["services"]) == set(compose_file()["services"])
    assert model["services"]["web"]["environment"]["DJANGO_SECRET_KEY"] == SECRET_KEY
    for secret in REQUIRED_SECRETS:
        result = config("--quiet", **{name: value for name, value in DOTENV.items() if name != secret})
        assert result.returncode != 0 and secret in result.stderr, (secret, result.stderr)


# --------------------------------------------------------------------------------------------
# The same processes without Docker.


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Stack:
    """The compose file's app services as local processes: each service's command and
    environment, with the addresses of the test's database, broker and static files."""

    def __init__(self, workdir: Path, database_url: str, broker_url: str, static_root: Path):
        self.workdir = workdir
        self.port = free_port()
        # What differs from the containers: where the database, Redis and static files are.
        broker = urlsplit(broker_url)
        self.local = {
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": urlunsplit(broker._replace(path="/0")),
            "CELERY_RESULT_BACKEND": urlunsplit(broker._replace(path="/0")),
            "DJANGO_CACHE_URL": urlunsplit(broker._replace(path="/2")),
            "LLMREC_HOME": str(workdir / "home"),
            "DJANGO_STATIC_ROOT": str(static_root),
        }
        self.services = services({**DOTENV, "WEB_CONCURRENCY": "1"})
        self.processes: dict[str, subprocess.Popen] = {}
        self._logs: list = []
        self.bin = str(Path(sys.executable).parent)  # python, gunicorn, celery of this environment

    def env(self, name: str) -> dict[str, str]:
        inherited = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DJANGO_", "CELERY_", "PYTEST_")) and key != "DATABASE_URL"
        }
        service_env = {key: str(value) for key, value in self.services[name]["environment"].items()}
        return {
            **inherited,
            **service_env,
            **self.local,
            "PATH": self.bin + os.pathsep + os.environ.get("PATH", ""),
            "HOSTNAME": socket.gethostname(),  # a container's $HOSTNAME, which Celery's %h is
            "XDG_RUNTIME_DIR": str(self.workdir),  # gunicorn's control socket, this test's own
        }

    def command(self, name: str) -> list[str]:
        arguments = argv(self.services[name])
        if name == "web":  # the one change: loopback and a free port instead of 0.0.0.0:8000
            arguments = [f"--bind=127.0.0.1:{self.port}" if a.startswith("--bind") else a for a in arguments]
        return arguments

    def log(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def start(self, name: str) -> None:
        log = open(self.log(name), "w")  # noqa: SIM115 - the process writes it until stopped
        self._logs.append(log)
        self.processes[name] = subprocess.Popen(
            self.command(name), cwd=ROOT, env=self.env(name), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def run(self, name: str, arguments: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(arguments, cwd=ROOT, env=self.env(name), capture_output=True, text=True, timeout=timeout)

    def health_commands(self, name: str) -> list[str]:
        test = self.services[name]["healthcheck"]["test"]
        if test[0] == "CMD-SHELL":
            return ["sh", "-c", test[1]]
        arguments = list(test[1:])
        if name == "web":
            arguments.append(f"--port={self.port}")
        return arguments

    def logs(self) -> str:
        return "\n".join(
            f"--- {name}\n{self.log(name).read_text()[-3000:]}" for name in self.processes if self.log(name).exists()
        )

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        for log in self._logs:
            log.close()


def get(port: int, path: str, **headers: str):
    """(status, headers, body) of a GET to the local gunicorn, redirects not followed."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": HOST, **headers})
    opener = urllib.request.build_opener(healthcheck._NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def wait_for(condition, seconds: float, what: str, stack: Stack):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        for name, process in stack.processes.items():
            assert process.poll() is None, (
                f"{name} exited with {process.returncode} while waiting for {what}\n{stack.logs()}"
            )
        time.sleep(0.2)
    raise AssertionError(f"no {what} within {seconds} s\n{stack.logs()}")


@pytest.fixture
def stack(transactional_db, broker, broker_app, collected_static, tmp_path):
    running = Stack(tmp_path, database_url(), broker.url, collected_static)
    yield running
    running.stop()


@pytest.mark.redis
def test_the_stack_runs_without_docker(stack, tenant):
    from django_celery_beat.models import PeriodicTask

    from llmrec_django import tasks
    from llmrec_django.learning import loop
    from llmrec_django.models import TrainingRun

    queues = site_queues()
    workers = worker_queues(stack.services)
    worker_of = {queue: name for name, consumed in workers.items() for queue in consumed}

    # The one-off first, as compose orders it: the migrations, then the learning loop's schedule.
    migrate = stack.run("migrate", stack.command("migrate"))
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    stored = set(PeriodicTask.objects.values_list("name", flat=True))
    assert {entry.name for entry, when in loop.configured_entries() if when} <= stored, stored

    for name in ("web", "beat", *workers):
        stack.start(name)

    # gunicorn: the health endpoint as the proxy sends it, plain HTTP redirected to HTTPS.
    wait_for(lambda: healthcheck.check_web(stack.port, HOST) is None, 90, "healthy web app", stack)
    status, headers, body = get(stack.port, "/api/llmrec/v1/health/", **{"X-Forwarded-Proto": "https"})
    assert (status, json.loads(body)["status"]) == (200, "ok")
    status, headers, _ = get(stack.port, "/api/llmrec/v1/health/")
    assert status == 301 and headers["Location"] == f"https://{HOST}/api/llmrec/v1/health/"

    # WhiteNoise: a page names the hashed file, which is served compressed and cached for good.
    status, _, page = get(stack.port, "/", **{"X-Forwarded-Proto": "https"})
    assert status == 200, page[-2000:]
    manifest = json.loads(Path(stack.local["DJANGO_STATIC_ROOT"], "staticfiles.json").read_text())["paths"]
    hashed = "/static/" + manifest["shop/site.css"]
    assert hashed.encode() in page, "the page links the content-hashed name"
    status, headers, css = get(stack.port, hashed, **{"X-Forwarded-Proto": "https"})
    assert status == 200 and headers["Content-Type"].startswith("text/css")
    assert css == (ROOT / "example_site/shop/static/shop/site.css").read_bytes()
    assert "immutable" in headers["Cache-Control"] and "max-age=315360000" in headers["Cache-Control"]
    status, headers, _ = get(stack.port, hashed, **{"X-Forwarded-Proto": "https", "Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"

    # Each queue's task is taken by its own worker.
    run = TrainingRun.objects.create(tenant=tenant, kind="encoder", status=TrainingRun.Status.FAILED)
    sent = {
        queues["default"]: (tasks.attribute_events.delay(), 0),
        queues["embed"]: (tasks.embed_changed_items.delay(tenant.pk, []), 0),
        queues["train"]: (tasks.train_finish_run.delay(run.pk), {"run": run.pk, "status": "failed", "promotion": ""}),
    }
    for queue, (result, expected) in sent.items():
        try:
            value = result.get(timeout=90)
        except Exception as error:  # noqa: BLE001 - the logs tell why
            raise AssertionError(f"{queue}: {type(error).__name__}: {error}\n{stack.logs()}") from error
        assert value == expected or (isinstance(expected, dict) and expected.items() <= value.items()), (queue, value)
    for queue, (result, _) in sent.items():
        received = {name for name in workers if result.id in stack.log(name).read_text()}
        assert received == {worker_of[queue]}, (queue, received)

    # Beat: the DatabaseScheduler sends the stored schedule (the outbox every few seconds) to the
    # light worker, and writes when it did.
    beat_log = stack.log("beat")
    assert wait_for(lambda: "DatabaseScheduler" in beat_log.read_text(), 30, "beat on the DatabaseScheduler", stack)
    outbox = next(entry.name for entry, when in loop.configured_entries() if entry.task == tasks.drain_outbox.name)
    wait_for(
        lambda: PeriodicTask.objects.filter(name=outbox, total_run_count__gte=1).exists(), 60, "beat's send", stack
    )
    wait_for(
        lambda: "llmrec_django.tasks.drain_outbox" in stack.log(worker_of[queues["default"]]).read_text(),
        30,
        "the outbox task on the light worker",
        stack,
    )

    # Every service's own health check, as Docker runs it in the container.
    checks = {
        name: subprocess.Popen(
            stack.health_commands(name),
            cwd=ROOT,
            env=stack.env(name),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for name in ("web", "beat", *workers)
    }
    for name, check in checks.items():
        output, _ = check.communicate(timeout=120)
        assert check.returncode == 0, f"{name}'s health check failed: {output}\n{stack.logs()}"
