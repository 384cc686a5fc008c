"""The outbox: decisions signed while the team ledger was out of reach, one JSON object
per line in the profile's data folder, and a line for each one's fate once sent.

Every line is appended and forced to disk (fsync) before the caller hears it was kept,
so a decision the person was told is kept survives a crash or a power cut. Nothing is
ever rewritten or removed: what was sent, and how it ended, stays readable next to
what waits. A line cut short by a crash is reported and skipped, never dropped from the
file, and the next line starts on a line of its own.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.domain.errors import UsageError
from app.stores.file_lock import file_lock

INTENT = "intent"
SENT = "sent"


@dataclass
class OutboxLines:
    """What the file holds: intents in the order they were made, the fate of each one
    sent (by intent id), and the numbers of lines that could not be read."""

    intents: list[dict[str, Any]] = field(default_factory=list)
    sent: dict[str, dict[str, Any]] = field(default_factory=dict)
    damaged: list[int] = field(default_factory=list)


class OutboxFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, kind: str, record: Mapping[str, Any]) -> None:
        """Add one line and force it to disk; UsageError with a sentence if it cannot."""
        line = json.dumps({"type": kind, **record}, sort_keys=True, ensure_ascii=False) + "\n"
        try:
            with file_lock(self.path):
                new = not self.path.exists()
                with self.path.open("a+b") as out:
                    # A crash may have left half a line: start on a line of our own.
                    if out.tell() > 0:
                        out.seek(-1, os.SEEK_END)
                        if out.read(1) != b"\n":
                            out.write(b"\n")
                    out.write(line.encode("utf-8"))
                    out.flush()
                    os.fsync(out.fileno())
                if new:
                    _sync_folder(self.path.parent)
        except OSError as exc:
            raise UsageError(
                f"Cannot keep the decision in the outbox {self.path}: {exc.strerror}. "
                "Nothing was signed into it."
            ) from None

    def read(self) -> OutboxLines:
        found = OutboxLines()
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return found
        except OSError as exc:
            raise UsageError(f"Cannot read the outbox {self.path}: {exc.strerror}.") from None
        for number, line in enumerate(raw.split(b"\n"), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                found.damaged.append(number)
                continue
            kind = record.get("type") if isinstance(record, dict) else None
            if kind == INTENT and isinstance(record.get("intent"), dict):
                found.intents.append(record)
            elif kind == SENT and isinstance(record.get("id"), str):
                found.sent.setdefault(record["id"], record)
            else:
                found.damaged.append(number)
        return found


def _sync_folder(folder: Path) -> None:
    """Make a new file's name durable too (POSIX: fsync the folder; Windows has none)."""
    if os.name != "posix":  # pragma: no cover - exercised on Windows only
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
