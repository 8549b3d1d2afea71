"""A Redis broker a test can take down and bring back, a Celery worker process a test can
SIGKILL (``WorkerProcess``, with ``tests.crash_worker_settings``), and waiting for results."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class RedisServer:
    """A redis-server of the test's own, on a free port, that the test stops and restarts."""

    def __init__(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None


def wait_until(condition: Callable[[], bool], seconds: float = 60) -> None:
    """Poll ``condition`` until it holds or ``seconds`` pass (the caller asserts it after)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not condition():
        time.sleep(0.1)


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


class WorkerProcess:
    """``celery -A example_site worker`` on the test's database and broker, as its own process."""

    def __init__(self, broker_url: str, log_path: Path):
        from django.db import connection

        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.crash_worker_settings",
            "LLMREC_CRASH_BROKER_URL": broker_url,
            "LLMREC_CRASH_DB_NAME": connection.settings_dict["NAME"],
            "PYTHONPATH": str(ROOT),
        }
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        from llmrec_django.queues import all_queues

        command = [
            sys.executable, "-m", "celery", "-A", "example_site", "worker", "-Q", ",".join(all_queues()),
            "--pool", "prefork", "--concurrency", "1", "--loglevel", "INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        log = open(self.log_path, "a")  # noqa: SIM115 - the process writes it until stopped
        self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def kill_child(self) -> bool:
        """SIGKILL the pool process (what the OOM killer does); the worker starts a new one."""
        for pid in children_of(self.process.pid):
            os.kill(pid, signal.SIGKILL)
            return True
        return False

    def kill_all(self) -> None:
        """SIGKILL the worker as a whole, its pool included, and start a new one."""
        pids = children_of(self.process.pid)
        self.process.send_signal(signal.SIGKILL)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=10)
        self.start()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            for pid in children_of(self.process.pid):
                os.kill(pid, signal.SIGKILL)
            self.process.kill()
            self.process.wait(timeout=10)
