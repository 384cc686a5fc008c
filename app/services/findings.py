"""Findings: an auditor signs a finding with their own key (often offline, in an audit
session), exports the signed documents, and anyone on the ledger imports them; an admin
resolves them with a signed event. Importing is idempotent: a finding already on the
ledger is skipped, one about something the ledger does not hold is refused."""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.domain.authority import AuthorityState
from app.domain.authority_records import (
    Finding,
    FindingSubject,
    Severity,
    finding_digest,
    finding_refusal,
)
from app.domain.errors import GavelError, UsageError
from app.domain.ledger import LedgerAction, LedgerDraft, LedgerEvent
from app.services.actor import Actor
from app.services.authority import AuthorityLedger, refusal_error
from app.services.membership import AfterWrite

if TYPE_CHECKING:
    from app.services.governance import GovernanceService
    from app.services.portfolio import PortfolioService
    from app.stores.ledger_store import LedgerStore


@dataclass(frozen=True)
class SignedFinding:
    """A finding document, its author's signature over its digest, and the key used."""

    document: Mapping[str, Any]
    signature: bytes
    key_id: str

    def to_json(self) -> dict[str, Any]:
        return {
            "finding": dict(self.document),
            "signature": base64.b64encode(self.signature).decode("ascii"),
            "key_id": self.key_id,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SignedFinding:
        try:
            return cls(
                dict(data["finding"]),
                base64.b64decode(str(data["signature"]), validate=True),
                str(data["key_id"]),
            )
        except (KeyError, TypeError, ValueError):
            raise UsageError("A line of the findings file is not a signed finding.") from None


@dataclass(frozen=True)
class ImportResult:
    added: tuple[str, ...]
    already_recorded: tuple[str, ...]
    # (finding id, why it was refused)
    refused: tuple[tuple[str, str], ...]


def about(
    kind: FindingSubject,
    *,
    registry: str = "",
    model: str = "",
    version: int | None = None,
    request_id: str = "",
    seq: int | None = None,
    event_hash: str = "",
) -> dict[str, Any]:
    """What a finding is about, in the form its document records."""
    out: dict[str, Any] = {"kind": kind.value}
    if registry:
        out["registry"] = registry
    if model:
        out["model"] = model
    if version is not None:
        out["version"] = version
    if request_id:
        out["request_id"] = request_id
    if seq is not None:
        out["seq"] = seq
        out["hash"] = event_hash
    return out


def subject_of(
    portfolio: PortfolioService,
    governance: GovernanceService,
    store: LedgerStore,
    *,
    model: str = "",
    registry: str = "",
    version: int | None = None,
    request: str = "",
    event: int | None = None,
) -> dict[str, Any]:
    """What a finding is about, checked against the cache and the ledger: a model (and
    version) that is cached, a request or a ledger event that exists. Exactly one of
    model, request and event; a UsageError says what is wrong otherwise."""
    if version is not None and not model:
        raise UsageError("--version names a version of a model: give --model too.")
    given = [what for what, on in (("a model", model), ("a request", request),
             ("a ledger event", event is not None)) if on]  # fmt: skip
    if len(given) != 1:
        raise UsageError(
            "A finding is about one thing: a model (--model, with --version for one of its "
            "versions), a promotion request (--request) or a ledger event (--event)."
        )
    if model:
        detail = portfolio.find_model(model, registry or None)
        if version is None:
            return about(FindingSubject.MODEL, registry=detail.registry, model=detail.name)
        if not any(v.version == version for v in detail.versions):
            raise UsageError(
                f"{detail.name} in {detail.registry} has no version {version} in the cache; "
                "'gavel models show' lists its versions."
            )
        return about(
            FindingSubject.VERSION, registry=detail.registry, model=detail.name, version=version
        )
    if request:
        req = governance.request(request)
        return about(
            FindingSubject.REQUEST,
            registry=req.identity.registry,
            model=req.identity.model,
            version=req.identity.version,
            request_id=req.request_id,
        )
    assert event is not None
    found = store.get([event])
    if not found:
        head = store.head()
        last = head.seq if head is not None else 0
        raise UsageError(f"The audit ledger has no event {event} (it holds events 1 to {last}).")
    return about(FindingSubject.EVENT, seq=found[0].seq, event_hash=found[0].hash)


class FindingService:
    def __init__(
        self,
        authority: AuthorityLedger,
        actor: Actor,
        after_write: AfterWrite = lambda: None,
        pending_file: Path | None = None,
    ) -> None:
        """pending_file: where findings signed here wait for export (in the auditor's own
        profile, also during an audit session, so closing the session loses none)."""
        self._authority = authority
        self._actor = actor
        self._after_write = after_write
        self._pending_file = pending_file

    def record(
        self, subject: Mapping[str, Any], severity: Severity, text: str, passphrase: str
    ) -> SignedFinding:
        """Sign a finding and keep it with the findings waiting for export."""
        if self._pending_file is None:
            raise UsageError("This profile keeps no findings file; export the finding instead.")
        signed = self.sign(subject, severity, text, passphrase)
        line = json.dumps(signed.to_json(), sort_keys=True) + "\n"
        try:
            with self._pending_file.open("a", encoding="utf-8") as out:
                out.write(line)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            raise UsageError(
                f"Cannot keep the finding in {self._pending_file}: {exc.strerror}."
            ) from None
        return signed

    def pending(self) -> list[SignedFinding]:
        """Findings signed here, in the order they were recorded (exported or not)."""
        if self._pending_file is None or not self._pending_file.exists():
            return []
        return read_findings(self._pending_file)

    def findings(self) -> list[Finding]:
        return self._authority.read(lambda s: sorted(s.findings.values(), key=lambda f: f.seq))

    def sign(
        self, subject: Mapping[str, Any], severity: Severity, text: str, passphrase: str
    ) -> SignedFinding:
        """A finding signed with my key; nothing is written to the ledger (see import)."""
        if not text.strip():
            raise UsageError("A finding needs a text saying what was found.")
        me = self._actor.me()
        signer = self._actor.signer(passphrase)
        document = {
            "id": uuid.uuid4().hex,
            "auditor": me.user_id,
            "severity": severity.value,
            "about": dict(subject),
            "text": text.strip(),
            "recorded_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
        digest = finding_digest(document)
        assert digest is not None  # built from strings only: always canonical
        return SignedFinding(document, signer.sign(digest), signer.key_id)

    def import_findings(self, findings: Sequence[SignedFinding], passphrase: str) -> ImportResult:
        """Enter signed findings in the ledger, each judged by the fold; idempotent."""
        importer = self._actor.user_id()
        signer = self._actor.signer(passphrase)
        store = self._authority.audit.store
        added: list[str] = []
        known: list[str] = []
        refused: list[tuple[str, str]] = []
        for item in findings:
            fid = str(item.document.get("id", ""))
            missing = self._missing_subject(item.document.get("about"), store)
            if missing:
                refused.append((fid, missing))
                continue

            def build(s: AuthorityState, item: SignedFinding = item) -> list[LedgerDraft]:
                if str(item.document.get("id")) in s.findings:
                    return []
                refusal = finding_refusal(s, item.document, item.signature, item.key_id)
                if refusal is not None:
                    raise refusal_error(refusal)
                return [
                    LedgerDraft(
                        importer,
                        LedgerAction.FINDING_RECORDED.value,
                        f"finding:{item.document['id']}",
                        after=item.to_json(),
                        reason=str(item.document.get("text", "")),
                    )
                ]

            try:
                written = self._authority.write(signer, build)
            except GavelError as exc:  # the fold's refusal: say it, go on with the rest
                refused.append((fid, exc.message))
                continue
            (added if written else known).append(fid)
        if added:
            self._after_write()
        return ImportResult(tuple(added), tuple(known), tuple(refused))

    @staticmethod
    def _missing_subject(subject: object, store: Any) -> str:
        """Why the ledger cannot hold a finding about ``subject`` ('' when it can)."""
        if not isinstance(subject, Mapping) or subject.get("kind") != FindingSubject.EVENT:
            return ""
        seq, hash_ = subject.get("seq"), subject.get("hash")
        events = store.get([seq]) if isinstance(seq, int) else []
        if not events or events[0].hash != hash_:
            return (
                f"It is about ledger event {seq}, which this ledger does not hold (or holds "
                "with other content): it was made on another ledger."
            )
        return ""

    def resolve(self, finding_id: str, resolution: str, passphrase: str) -> LedgerEvent:
        """Close an open finding with a signed resolution (admins)."""
        if not resolution.strip():
            raise UsageError("A resolution says how the finding was resolved.")
        me = self._actor.user_id()
        signer = self._actor.signer(passphrase)
        draft = LedgerDraft(
            me,
            LedgerAction.FINDING_RESOLVED.value,
            f"finding:{finding_id}",
            after={"finding_id": finding_id},
            reason=resolution.strip(),
        )
        (event,) = self._authority.write(signer, lambda _s: [draft])
        self._after_write()
        return event


def write_findings(path: Path, findings: Sequence[SignedFinding]) -> None:
    """A findings file: one signed finding per line (JSON), written whole or not at all."""
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8") as out:
            for item in findings:
                out.write(json.dumps(item.to_json(), sort_keys=True) + "\n")
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise UsageError(f"Cannot write {path}: {exc.strerror}.") from None


def read_findings(path: Path) -> list[SignedFinding]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"Cannot read the findings file {path}: {exc}.") from None
    out = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            out.append(SignedFinding.from_json(json.loads(line)))
        except (ValueError, UsageError):
            raise UsageError(f"Line {number} of {path} is not a signed finding.") from None
    return out
