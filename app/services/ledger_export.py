"""Exports of the audit ledger, and the offline verifier of a JSONL export.

A JSONL export has one line per event, in sequence order: the RFC 8785 canonical
form of

    {"body": <the event's canonical body>, "hash": "<hex SHA-256>", "signature": "<base64>" | null}

JCS nests canonically, so each line holds the stored body bytes verbatim between
'{"body":' and ',"hash":"'. Anyone can check an export with a JSON parser, rfc8785
and SHA-256 alone: ``sha256(rfc8785.dumps(rec["body"]))`` equals ``rec["hash"]``,
each body's "prev" is the previous line's "hash" (64 zeros on line 1) and "seq"
counts 1, 2, 3, ...; signatures are Ed25519 over the 32 raw hash bytes, by keys
whose public halves the file's own ``key.enrolled`` events carry.

A CSV export is for reading in a spreadsheet; only the JSONL export is verifiable.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import BinaryIO, TextIO

from app.domain.authority import AuthorityState
from app.domain.authority_model import FOLDED_ACTIONS
from app.domain.authority_report import combined_report
from app.domain.cancel import CancelToken
from app.domain.ledger import (
    Checkpoint,
    ExportFailed,
    LedgerTampered,
    ProblemKind,
    StoredRow,
    VerifyProblem,
    VerifyReport,
    format_ts,
    stored_to_event,
)
from app.domain.ledger_keys import SignatureVerifier
from app.domain.ledger_verify import VERIFY_PHASE, ChainVerifier
from app.domain.progress import Progress, ProgressCallback, no_progress
from app.services.signing import MemoVerifier

CSV_COLUMNS = (
    "seq",
    "ts",
    "actor",
    "action",
    "subject",
    "before",
    "after",
    "reason",
    "prev_hash",
    "hash",
    "signer",
    "signature",
)

_PREFIX = b'{"body":'
_HASH_SEP = b',"hash":"'
_CHUNK = 5_000
_FOLDED = frozenset(FOLDED_ACTIONS)


def jsonl_line(row: StoredRow) -> bytes:
    """One export line, built from the stored bytes without re-serialising them."""
    _seq, body, hash_, _signer, signature, _action = row
    sig = b"null" if signature is None else b'"' + base64.b64encode(signature) + b'"'
    return _PREFIX + body + _HASH_SEP + hash_.encode("ascii") + b'","signature":' + sig + b"}\n"


def write_jsonl(chunks: Iterable[Sequence[StoredRow]], out: BinaryIO) -> int:
    count = 0
    for rows in chunks:
        out.write(b"".join(jsonl_line(row) for row in rows))
        count += len(rows)
    return count


def write_csv(chunks: Iterable[Sequence[StoredRow]], out: TextIO) -> int:
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for rows in chunks:
        for row in rows:
            e = stored_to_event(row)
            writer.writerow(
                (
                    e.seq,
                    format_ts(e.at),
                    e.actor,
                    e.action,
                    e.subject,
                    _json_cell(e.before),
                    _json_cell(e.after),
                    e.reason,
                    e.prev_hash,
                    e.hash,
                    e.signer or "",
                    base64.b64encode(e.signature).decode("ascii") if e.signature else "",
                )
            )
        count += len(rows)
    return count


def _json_cell(value: object) -> str:
    return "" if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


class _BadLine(ValueError):
    pass


def _parse_line(line: bytes) -> StoredRow:
    """A stored row from one export line; _BadLine unless the line is exactly canonical."""
    try:
        rec = json.loads(line)
        doc, hash_, sig = rec["body"], rec["hash"], rec["signature"]
        body = line[len(_PREFIX) : line.rindex(_HASH_SEP)]
        sig_json = b"null" if sig is None else b'"' + sig.encode("ascii") + b'"'
        rebuilt = _PREFIX + body + _HASH_SEP + hash_.encode("ascii") + b'","signature":' + sig_json
        if line != rebuilt + b"}":
            raise _BadLine
        signature = None if sig is None else base64.b64decode(sig, validate=True)
        return (doc["seq"], body, hash_, doc["signer"], signature, doc["event"]["action"])
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
        raise _BadLine from None


def verify_export(
    path: Path,
    *,
    checkpoint: Checkpoint | None = None,
    signatures: SignatureVerifier | None = None,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> VerifyReport:
    """Verify a JSONL export on its own, without any database.

    checkpoint: one kept from an earlier audit (or from the ``export.made`` event that
        recorded this export) that the file must reach.
    """
    memo = MemoVerifier(signatures)
    verifier = ChainVerifier(memo, expect=checkpoint)
    # The export is judged like the ledger: who had the authority for each event.
    state = AuthorityState(memo)
    rows: list[StoredRow] = []
    bad_line: VerifyProblem | None = None

    def feed(chunk: list[StoredRow]) -> VerifyProblem | None:
        problem = verifier.feed(chunk)
        upto = verifier.events_checked
        for row in chunk:
            if row[5] not in _FOLDED or row[0] > upto:
                continue
            try:
                event = stored_to_event(row)
            except LedgerTampered as exc:
                # One unreadable row is a problem to name, not a verifier crash.
                state.fold_unreadable(row[0], row[5], "", exc.message)
                continue
            state.fold(event)
        return problem  # only a broken chain stops the reading

    try:
        with path.open("rb") as f:
            for number, raw in enumerate(f, 1):
                try:
                    rows.append(_parse_line(raw.removesuffix(b"\n")))
                except _BadLine:
                    if feed(rows) is None:
                        seq = verifier.events_checked + 1
                        bad_line = VerifyProblem(
                            ProblemKind.EDITED,
                            seq,
                            f"Line {number} of the export (event {seq}) is not a ledger "
                            "record in canonical form: the file was edited.",
                        )
                    rows = []
                    break
                if len(rows) >= _CHUNK:
                    if feed(rows) is not None:
                        rows = []
                        break
                    rows = []
                    progress(Progress(VERIFY_PHASE, verifier.events_checked))
                    if cancel is not None:
                        cancel.raise_if_cancelled()
    except OSError as exc:
        raise ExportFailed(f"Cannot read the export {path}: {exc.strerror or exc}.") from None
    feed(rows)
    report = verifier.finish()
    if bad_line is not None:
        return VerifyReport(
            report.events_checked,
            report.signatures_checked,
            report.head,
            bad_line,
            chain_broken=True,
            open_problems=(bad_line,),
        )
    return combined_report(report, state)
