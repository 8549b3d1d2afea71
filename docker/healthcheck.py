"""Health checks of the Docker stack's web app and beat (docker/docker-compose.yml); the workers'
is ``celery inspect ping``. Exit status 0: healthy; 1: not, with the reason on stderr.

python docker/healthcheck.py web [--port 8000]
    ``GET /api/llmrec/v1/health/`` from the web process on this host, sent as the TLS proxy in
    front sends it (``X-Forwarded-Proto: https``, a host of ``DJANGO_ALLOWED_HOSTS``): healthy on
    200, which the app answers while it reaches its database. Standard library only (fast).
python docker/healthcheck.py beat [--max-silence 600]
    Celery beat with django-celery-beat's DatabaseScheduler: healthy while an enabled periodic
    task was sent in the last ``--max-silence`` seconds. Beat writes each task's last run to the
    database right after its first send and then at least every 3 minutes, and the learning loop
    sends the outbox task every 10 seconds, so a beat that is stuck, cut off from the database or
    has nothing enabled turns unhealthy.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

HEALTH_PATH = "/api/llmrec/v1/health/"


def request_host(allowed_hosts: str) -> str:
    """A ``Host`` header that ``ALLOWED_HOSTS`` accepts: its first concrete name (``.example.com``
    allows ``example.com``); ``localhost`` when it allows any host."""
    for entry in (host.strip() for host in allowed_hosts.split(",")):
        if entry and entry != "*":
            return entry.lstrip(".")
    return "localhost"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a redirect is an answer, not something to follow
        return None


def check_web(port: int, allowed_hosts: str, timeout: float = 5.0) -> str | None:
    """None when the app answers 200 ``{"status": "ok"}`` on its health endpoint, else what is wrong."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{HEALTH_PATH}",
        headers={"Host": request_host(allowed_hosts), "X-Forwarded-Proto": "https", "Accept": "application/json"},
    )
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=timeout) as response:
            body = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return f"{HEALTH_PATH} answered {error.code} {error.reason}"
    except (OSError, ValueError) as error:
        return f"{HEALTH_PATH} did not answer: {error}"
    if body.get("status") != "ok":
        return f"{HEALTH_PATH} answered 200 with status {body.get('status')!r}"
    return None


def check_beat(max_silence: float, now: datetime | None = None) -> str | None:
    """None when an enabled periodic task was last sent at most ``max_silence`` seconds ago, else
    what is wrong. Needs Django set up (the site's settings)."""
    from django.db.models import Max
    from django.utils import timezone
    from django_celery_beat.models import PeriodicTask

    newest = PeriodicTask.objects.filter(enabled=True).aggregate(newest=Max("last_run_at"))["newest"]
    if newest is None:
        return "beat has sent no enabled periodic task yet (none stored or enabled: run manage.py llmrec_schedule)"
    silence = ((now or timezone.now()) - newest).total_seconds()
    if silence > max_silence:
        return f"beat sent no periodic task for {silence:.0f} s (more than {max_silence:.0f} s)"
    return None


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of seconds")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    checks = parser.add_subparsers(dest="check", required=True)
    web = checks.add_parser("web", help="the web app's health endpoint answers 200")
    web.add_argument("--port", type=int, default=8000, help="the port gunicorn listens on (8000)")
    beat = checks.add_parser("beat", help="beat sent a periodic task lately")
    beat.add_argument("--max-silence", type=_positive, default=600.0, help="seconds (600)")
    options = parser.parse_args(argv)

    if options.check == "web":
        problem = check_web(options.port, os.environ.get("DJANGO_ALLOWED_HOSTS", ""))
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the site's package
        import django

        django.setup()
        try:
            problem = check_beat(options.max_silence)
        except Exception as error:  # noqa: BLE001 - the database away is unhealthy, not a crash
            problem = f"cannot read beat's schedule: {type(error).__name__}: {error}"
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
