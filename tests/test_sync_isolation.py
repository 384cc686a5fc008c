"""The sync child process: it must never compete with the console for the CPU on
equal terms, since a two-core laptop would then freeze the window during a sync."""

from __future__ import annotations

import os
from multiprocessing.connection import Connection
from typing import Any

from app.services.sync_isolation import CHILD_NICENESS, IsolatedSync


def report_priority(name: str, conn: Connection, stop: Any) -> None:
    """A child main that answers with the CPU priority it runs at."""
    conn.send(("result", os.getpriority(os.PRIO_PROCESS, 0)))
    conn.close()


def test_the_sync_child_runs_at_a_lower_priority_than_the_console() -> None:
    console = os.getpriority(os.PRIO_PROCESS, 0)
    child: Any = IsolatedSync(report_priority, lambda: ()).sync("any")
    assert child == min(19, console + CHILD_NICENESS)
    assert os.getpriority(os.PRIO_PROCESS, 0) == console  # the console keeps its own
