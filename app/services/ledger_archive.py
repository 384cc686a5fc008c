"""Archiving the ledger of Gavel 0.1, which lived inside the cache file.

Its authority events (roles, policies, requests) were not signed, so the authority
fold of this version could never count them; continuing it would flag every one of
them. It is written instead, verbatim, as a verifiable JSONL export beside the new
ledger ('gavel audit verify --file' checks it), and the new ledger starts afresh.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from app.services.ledger_export import write_jsonl
from app.stores.legacy_ledger import legacy_event_count, legacy_rows

log = logging.getLogger("gavel.ledger_archive")


def archive_legacy_ledger(cache_path: Path, archive_path: Path) -> int:
    """Write the cache's old ledger to ``archive_path`` (once); the number of events."""
    count = legacy_event_count(cache_path)
    if count == 0 or archive_path.exists():
        return 0
    partial = archive_path.with_name(archive_path.name + ".partial")
    with partial.open("wb") as out:
        written = write_jsonl(legacy_rows(cache_path), out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, archive_path)
    log.warning(
        "the audit ledger of Gavel 0.1 (%d events) was archived to %s; a new ledger starts",
        written,
        archive_path,
    )
    return written
