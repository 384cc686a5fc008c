"""Hold back start-up work until the window has painted its first frame.

Background refreshes (governance, the audit trail, endpoint polling) run in worker
threads that share this interpreter's GIL; started before the first paint they
delay it. Callbacks queued here run right after the first paint instead.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QWidget


class FirstPaintGate(QObject):
    def __init__(self, watched: QWidget, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._watched = watched
        self._queued: list[Callable[[], object]] = []
        self.opened = False
        self._closed = False
        watched.installEventFilter(self)

    def after_first_paint(self, callback: Callable[[], object]) -> None:
        """Run callback after the first paint (now, if it already happened)."""
        if self._closed:
            return
        if self.opened:
            callback()
        else:
            self._queued.append(callback)

    def open(self) -> None:
        """Run what waits now (also used when the watched widget is never painted)."""
        if self.opened or self._closed:
            return
        self.opened = True
        self._watched.removeEventFilter(self)
        queued, self._queued = self._queued, []
        for callback in queued:
            callback()

    def close(self) -> None:
        """Drop what waits: the window is shutting down before it ever painted.

        Without this, a window closed within the fallback delay would start its
        endpoint poller and refreshes after shutdown, on objects about to be deleted.
        """
        if not self.opened:
            self._watched.removeEventFilter(self)
        self._closed = True
        self._queued = []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and not self.opened:
            # Let this paint finish before anything else starts. The gate is the
            # timer's context: deleted with the window, the timer never fires.
            QTimer.singleShot(0, self, self.open)
        return False
