"""Cancellation token shared between a worker and whoever may stop it."""

from __future__ import annotations

import threading

from app.domain.errors import Cancelled


class CancelToken:
    """Thread-safe flag a long operation checks between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()
