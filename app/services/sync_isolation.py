"""Run a sync in a child process, with the same interface as SyncService.sync.

A full sync parses megabytes of JSON and writes thousands of rows; in a thread those
C-level calls hold the GIL long enough to freeze the console for hundreds of
milliseconds. In a child process the console's interpreter never waits for them.
Progress, the result and errors come back over a pipe; cancel goes the other way.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable
from contextlib import suppress
from multiprocessing.connection import Connection
from typing import Any

from app.domain.cancel import CancelToken
from app.domain.errors import GavelError
from app.domain.progress import ProgressCallback, no_progress
from app.services.sync import SyncResult, SyncService

log = logging.getLogger("gavel.sync")

# child_main(*child_args, registry_name, conn, cancel_event): builds its own context,
# syncs, and sends ("progress", Progress) ... then ("result", SyncResult) or
# ("error", (module, class name, message)) or ("crash", traceback text).
ChildMain = Callable[..., None]
_POLL_S = 0.05


class SyncProcessCrashed(RuntimeError):
    """The child process died or hit a bug; this goes to the crash handler."""


class IsolatedSync:
    def __init__(self, child_main: ChildMain, child_args: Callable[[], tuple[Any, ...]]) -> None:
        self._child_main = child_main
        self._child_args = child_args

    def sync(
        self,
        name: str,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> SyncResult:
        """SyncService.sync in a fresh process; raises the same GavelError types."""
        mp = multiprocessing.get_context("spawn")
        receiver, sender = mp.Pipe(duplex=False)
        stop = mp.Event()
        proc = mp.Process(
            target=_child_entry,
            args=(os.getpid(), self._child_main, *self._child_args(), name, sender, stop),
            name=f"gavel-sync-{name}",
            daemon=True,
        )
        proc.start()
        if proc.pid is not None:  # set once started
            below_the_console(proc.pid, os.getpid())
        sender.close()
        try:
            return self._follow(proc, receiver, stop, progress, cancel)
        finally:
            receiver.close()
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join()

    def _follow(
        self,
        proc: Any,
        receiver: Connection,
        stop: Any,
        progress: ProgressCallback,
        cancel: CancelToken | None,
    ) -> SyncResult:
        while True:
            if cancel is not None and cancel.cancelled:
                stop.set()
            try:
                ready = receiver.poll(_POLL_S)
                message = receiver.recv() if ready else None
            except EOFError:
                raise SyncProcessCrashed(
                    f"The sync process ended without an answer (exit code {proc.exitcode})."
                ) from None
            if message is None:
                if not proc.is_alive() and not receiver.poll(0):
                    raise SyncProcessCrashed(
                        f"The sync process ended without an answer (exit code {proc.exitcode})."
                    )
                continue
            kind, payload = message
            if kind == "progress":
                progress(payload)
            elif kind == "result":
                return payload
            elif kind == "error":
                raise rebuild_error(*payload)
            else:
                raise SyncProcessCrashed(f"The sync process failed:\n{payload}")


# How much less CPU priority a sync child has than the console (nice levels).
CHILD_NICENESS = 10


def below_the_console(pid: int, console_pid: int) -> None:
    """Give process `pid` a lower CPU priority than the console's.

    On a two-core laptop a full sync keeps its child, and often a local registry
    server, busy; at equal priority the scheduler lets the console wait its turn for
    tens of milliseconds, which the user sees as a frozen window. Lowered, the child
    still gets every idle cycle and the console runs the moment it has work. An
    absolute level (the console's plus CHILD_NICENESS), so parent and child can both
    set it, whichever comes first: the child from its first line, the parent for
    the imports before it.
    """
    with suppress(OSError, AttributeError):  # AttributeError: no setpriority on Windows
        level = min(19, os.getpriority(os.PRIO_PROCESS, console_pid) + CHILD_NICENESS)
        os.setpriority(os.PRIO_PROCESS, pid, level)


def _child_entry(console_pid: int, child_main: ChildMain, *args: Any) -> None:
    below_the_console(0, console_pid)
    child_main(*args)


def rebuild_error(module: str, name: str, message: str) -> GavelError:
    """The child's GavelError as the same class here (GavelError if it cannot be found)."""
    try:
        cls = getattr(importlib.import_module(module), name)
        if isinstance(cls, type) and issubclass(cls, GavelError):
            return cls(message)
    except (ImportError, AttributeError, TypeError):
        pass
    return GavelError(message)


def serve_sync(sync: SyncService, name: str, conn: Connection, stop: Any) -> None:
    """The child's side: run the sync, report over conn, honour the stop event."""
    token = CancelToken()

    def watch() -> None:
        stop.wait()
        token.cancel()

    threading.Thread(target=watch, name="cancel-watch", daemon=True).start()
    try:
        result = sync.sync(name, progress=lambda p: conn.send(("progress", p)), cancel=token)
        conn.send(("result", result))
    except GavelError as exc:
        conn.send(("error", (type(exc).__module__, type(exc).__name__, exc.message)))
    finally:
        conn.close()
