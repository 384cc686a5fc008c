"""The authority rules for attestations: periodic reviews of the version in production,
and auditors' findings with their resolutions (see ``domain.authority``).

A review is signed by its author like an approval, and refused like one: the policy's
role for the model's tier, never the version's creator, its run's user or the person
who requested its promotion, and (high risk) never while those authors map to nobody.
The authors are those the promotion's request recorded (re-checked against the
registry at apply); for a version Gavel did not promote, those the review records.

A finding is a document an auditor signs with their own key (often offline, in an
audit session on a bundle), then entered in a ledger by whoever imports it: the event
is signed by the importer, the finding inside it by the auditor. It counts when the
auditor's key is one this ledger enrolled for them (not revoked), they held the
auditor (or admin) role, and its id is new, so importing a file twice adds nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import rfc8785

from app.domain.authority_model import (
    Judgement,
    KeyStatus,
    Refusal,
    RefusalKind,
    as_mapping,
    name_list,
)
from app.domain.governance import RequestState, Role, strictest_tier
from app.domain.ledger import LedgerAction, LedgerEvent

if TYPE_CHECKING:
    from app.domain.authority import AuthorityState


class Severity(StrEnum):
    OBSERVATION = "observation"
    MINOR = "minor"
    MAJOR = "major"


class FindingSubject(StrEnum):
    MODEL = "model"
    VERSION = "version"
    REQUEST = "request"
    EVENT = "event"


@dataclass(frozen=True)
class Review:
    seq: int
    at: datetime
    reviewer: str
    registry: str
    model: str
    version: int
    comment: str
    evidence: tuple[str, ...]
    event_hash: str


@dataclass
class Finding:
    """An auditor's finding as the ledger holds it, and its resolution once resolved."""

    finding_id: str
    auditor: str
    severity: Severity
    about: Mapping[str, Any]
    text: str
    recorded_at: str
    seq: int  # the finding.recorded event
    entered_by: str
    resolved_seq: int | None = None
    resolved_by: str = ""
    resolution: str = ""
    document: Mapping[str, Any] = field(default_factory=dict)

    @property
    def open(self) -> bool:
        return self.resolved_seq is None


def finding_digest(document: Mapping[str, Any]) -> bytes | None:
    """What an auditor signs: the SHA-256 of the finding's RFC 8785 canonical JSON; None
    when the document has no canonical form (nobody could have signed it)."""
    try:
        return hashlib.sha256(rfc8785.dumps(dict(document))).digest()
    except (rfc8785.CanonicalizationError, TypeError, ValueError):
        return None


# ------------------------------------------------------------------------- reviews


def review_refusal(
    s: AuthorityState,
    actor: str,
    registry: str,
    model: str,
    version: int,
    creator: str,
    run_user: str,
    *tiers_seen: str | None,
) -> Refusal | None:
    """Why ``actor`` may not attest that this version is still fit; None when they may.

    tiers_seen: tiers read outside the ledger (the cache); the strictest of them, the
    last one a sync recorded and the one its promotion's request recorded applies, so
    one forged tier observation cannot lower what a review needs.
    """
    promoted = [
        r
        for r in s.requests.values()
        if r.state is RequestState.APPLIED
        and (r.identity.registry, r.identity.model, r.identity.version)
        == (registry, model, version)
    ]
    tier = strictest_tier(
        s.observed_tier(f"model:{registry}/{model}"),
        *(r.risk_tier for r in promoted),
        *tiers_seen,
    )
    policy = s.policy(tier)
    roles = s.roles_of(actor)
    if policy.required_role not in roles:
        return Refusal(
            RefusalKind.NOT_AUTHORIZED,
            f"only someone with the {policy.required_role.value} role can review "
            f"{tier}-risk models; {actor} has "
            f"{', '.join(sorted(r.value for r in roles)) or 'no role'}.",
        )
    if promoted:
        # The authors a requester recorded and apply re-checked against the registry
        # count over what the reviewer's own client says.
        creator, run_user = promoted[-1].version_creator, promoted[-1].run_user
    names = s.names_of(actor)
    if creator and creator.lower() in names:
        return Refusal(
            RefusalKind.SEPARATION_OF_DUTIES,
            f"{actor} created version {version} of {model} ({creator}) and cannot review it.",
        )
    if run_user and run_user.lower() in names:
        return Refusal(
            RefusalKind.SEPARATION_OF_DUTIES,
            f"{actor} ran the training run of this version ({run_user}) and cannot review it.",
        )
    for r in promoted:
        if r.requester == actor:
            return Refusal(
                RefusalKind.SEPARATION_OF_DUTIES,
                f"{actor} requested the promotion of this version and cannot review it.",
            )
    if tier == "high":
        unmapped = [n for n in (creator, run_user) if n and s.owner_of(n) is None]
        if unmapped:
            return Refusal(
                RefusalKind.INVALID_STATE,
                f"the version's author '{unmapped[0]}' maps to no Gavel identity; a "
                "high-risk review waits until an admin maps that name.",
            )
    return None


def _review(s: AuthorityState, ev: LedgerEvent) -> Judgement:
    after = as_mapping(ev.after)
    registry, model, version = after.get("registry"), after.get("model"), after.get("version")
    if not isinstance(registry, str) or not isinstance(model, str) or not isinstance(version, int):
        return Refusal(RefusalKind.MALFORMED, "it does not name the version it reviews.")
    if ev.subject != f"model:{registry}/{model}":
        return Refusal(RefusalKind.MALFORMED, "its subject is not the model it reviews.")
    refusal = review_refusal(
        s,
        ev.actor,
        registry,
        model,
        version,
        str(after.get("version_creator", "")),
        str(after.get("run_user", "")),
    )
    if refusal is not None:
        return refusal
    review = Review(
        ev.seq,
        ev.at,
        ev.actor,
        registry,
        model,
        version,
        ev.reason,
        name_list(after.get("evidence")),
        ev.hash,
    )

    def apply() -> None:
        s.reviews.setdefault((registry, model, version), []).append(review)

    return apply


# ------------------------------------------------------------------------ findings


def finding_refusal(
    s: AuthorityState, document: Mapping[str, Any], signature: bytes, key_id: str
) -> Refusal | None:
    """Why this signed finding cannot enter the ledger; None when it can."""
    finding_id, auditor = document.get("id"), document.get("auditor")
    if not isinstance(finding_id, str) or not finding_id or not isinstance(auditor, str):
        return Refusal(RefusalKind.MALFORMED, "the finding has no id or no auditor.")
    try:
        Severity(str(document.get("severity")))
    except ValueError:
        return Refusal(
            RefusalKind.MALFORMED, "a finding's severity is observation, minor or major."
        )
    about = document.get("about")
    if not isinstance(about, Mapping):
        return Refusal(RefusalKind.MALFORMED, "the finding does not say what it is about.")
    try:
        FindingSubject(str(about.get("kind")))
    except ValueError:
        return Refusal(
            RefusalKind.MALFORMED,
            "a finding is about a model, a version, a request or a ledger event.",
        )
    if finding_id in s.findings:
        return Refusal(RefusalKind.INVALID_STATE, f"finding {finding_id} is already recorded.")
    key = s.keys.get(key_id)
    if key is None or key.holder != auditor:
        return Refusal(
            RefusalKind.BAD_SIGNATURE,
            f"the finding is signed with key {key_id}, which is not a key of {auditor} on "
            "this ledger.",
        )
    if key.status in (KeyStatus.PENDING, KeyStatus.REVOKED):
        return Refusal(
            RefusalKind.NOT_AUTHORIZED,
            f"the finding is signed with a key of {auditor} that is {key.status.value}.",
        )
    digest = finding_digest(document)
    if digest is None or not s.signatures.verify(key.public_key, signature, digest):
        return Refusal(
            RefusalKind.BAD_SIGNATURE,
            f"the finding's signature does not verify with {auditor}'s key: it was forged or "
            "altered.",
        )
    if not s.roles_of(auditor) & {Role.AUDITOR, Role.ADMIN}:
        return Refusal(
            RefusalKind.NOT_AUTHORIZED,
            f"findings are recorded by auditors; {auditor} does not hold the auditor role.",
        )
    return None


def _finding(s: AuthorityState, ev: LedgerEvent) -> Judgement:
    after = as_mapping(ev.after)
    document, signature_b64, key_id = (
        after.get("finding"),
        after.get("signature"),
        after.get("key_id"),
    )
    if not isinstance(document, Mapping) or not isinstance(signature_b64, str):
        return Refusal(RefusalKind.MALFORMED, "it does not carry a signed finding.")
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return Refusal(RefusalKind.MALFORMED, "the finding's signature is not base64.")
    refusal = finding_refusal(s, document, signature, str(key_id))
    if refusal is not None:
        return refusal
    finding = Finding(
        finding_id=str(document["id"]),
        auditor=str(document["auditor"]),
        severity=Severity(str(document["severity"])),
        about=dict(as_mapping(document["about"])),
        text=str(document.get("text", "")),
        recorded_at=str(document.get("recorded_at", "")),
        seq=ev.seq,
        entered_by=ev.actor,
        document=dict(document),
    )

    def apply() -> None:
        s.findings[finding.finding_id] = finding

    return apply


def _resolution(s: AuthorityState, ev: LedgerEvent) -> Judgement:
    refusal = s.require_admin(ev.actor, "resolve a finding")
    if refusal is not None:
        return refusal
    finding_id = as_mapping(ev.after).get("finding_id")
    finding = s.findings.get(finding_id) if isinstance(finding_id, str) else None
    if finding is None:
        return Refusal(RefusalKind.INVALID_STATE, f"there is no finding {finding_id}.")
    if not finding.open:
        return Refusal(
            RefusalKind.INVALID_STATE,
            f"finding {finding_id} was resolved at event {finding.resolved_seq}.",
        )
    if not ev.reason.strip():
        return Refusal(RefusalKind.MALFORMED, "a resolution says how the finding was resolved.")

    def apply() -> None:
        finding.resolved_seq, finding.resolved_by, finding.resolution = (
            ev.seq,
            ev.actor,
            ev.reason,
        )

    return apply


RECORD_RULES: dict[str, Callable[[AuthorityState, LedgerEvent], Judgement]] = {
    LedgerAction.REVIEW_RECORDED.value: _review,
    LedgerAction.FINDING_RECORDED.value: _finding,
    LedgerAction.FINDING_RESOLVED.value: _resolution,
}
