"""The console as its own process: SIGTERM (a logout, `kill`, a service manager) closes
it as its window's close does, so the demo's MLflow server does not outlive it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.test_cli import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.integration]

# A first run writes the demo's story and starts a fresh MLflow server.
START_DEADLINE_S = 240
CLOSE_DEADLINE_S = 60


def _log(home: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in home.rglob("gavel.log"))


def _wait_for(
    condition: str, check: Callable[[], bool], proc: subprocess.Popen[str], deadline: float
) -> None:
    while not check():
        assert proc.poll() is None, f"the console ended before {condition}: {proc.returncode}"
        assert time.monotonic() < deadline, f"no {condition} in {START_DEADLINE_S}s"
        time.sleep(0.2)  # polling another process's log: there is no signal to wait on


def _answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _stop_orphan_server(home: Path) -> None:
    """A console that failed this test may leave its demo server (its own process
    group, named in the pid file) running: stop it so the failure stays in this test."""
    for pid_file in home.rglob("mlflow-server.pid"):
        pid = int(pid_file.read_text(encoding="ascii").split()[0])
        with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
            os.killpg(pid, signal.SIGKILL)


def test_sigterm_closes_the_console_and_stops_the_demo_server(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "GAVEL_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "gui"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + START_DEADLINE_S
        _wait_for("console running", lambda: "console running" in _log(home), proc, deadline)
        _wait_for("demo server", lambda: "demo registry running at" in _log(home), proc, deadline)
        line = next(x for x in _log(home).splitlines() if "demo registry running at" in x)
        port = int(line.rsplit(":", 1)[1])
        assert _answers(port)

        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=CLOSE_DEADLINE_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _stop_orphan_server(home)
    assert proc.returncode == 0, err
    log = _log(home)
    assert "SIGTERM; closing the console" in log
    assert "demo registry stopped" in log and "console closed" in log
    assert not _answers(port), "the demo's MLflow server outlived the console"
