"""Progress reports from long operations, in counts a person can read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    phase: str
    done: int = 0
    total: int | None = None

    def describe(self) -> str:
        if self.total:
            return f"{self.phase}: {self.done:,} of {self.total:,}"
        if self.done:
            return f"{self.phase}: {self.done:,}"
        return self.phase


ProgressCallback = Callable[[Progress], None]


def no_progress(_: Progress) -> None:
    """Progress sink for callers that do not display progress."""
