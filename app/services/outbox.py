"""Decisions made while the team ledger is out of reach: signed, kept, sent later.

In team mode a desktop that cannot reach the shared ledger still lets an approver
approve, reject or comment: the decision is checked against the verified replica as
any decision is, signed as an intent (``domain.offline``) with the replica head it was
made against and the policy it was made under, and kept in the profile's outbox
(``stores.outbox_file``). It is "waiting to be sent" until a desktop with the ledger
sends it (at start-up, or ``gavel outbox flush``).

Sending judges each intent again, at the head of the shared ledger, under its append
lock: if the request is still pending, the policy is the one it was decided under and
the fold accepts it, the decision is appended (unsigned; the intent inside carries its
author's signature). Otherwise a ``decision.superseded`` record keeps it with the
reason, and its author is told. The fold remembers every intent id, so a decision is
counted at most once: a flush killed after the append and before the outbox noted it
finds it on the ledger next time and notes it then.
"""

from __future__ import annotations

import base64
import binascii
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from app.domain.authority import AuthorityState
from app.domain.authority_model import Refusal
from app.domain.cancel import CancelToken
from app.domain.errors import GavelError, StoreUnreachable, UsageError
from app.domain.governance import (
    PromotionRequest,
    RequestState,
    SignatureMeaning,
    request_subject,
)
from app.domain.ledger import LedgerAction, LedgerDraft, LedgerError
from app.domain.offline import intent_digest, intent_document, policy_digest
from app.domain.progress import Progress, ProgressCallback, no_progress
from app.services.actor import Actor
from app.services.authority import AuthorityLedger
from app.services.governance import GovernanceService, request_view
from app.services.membership import AfterWrite
from app.services.portfolio import PortfolioService
from app.stores.outbox_file import INTENT, SENT, OutboxFile

log = logging.getLogger("gavel.outbox")

_NOUNS = {
    LedgerAction.REQUEST_APPROVED.value: "approval",
    LedgerAction.REQUEST_REJECTED.value: "rejection",
    LedgerAction.COMMENT_ADDED.value: "comment",
}
_DECISIONS = (LedgerAction.REQUEST_APPROVED.value, LedgerAction.REQUEST_REJECTED.value)


def kept_decision(waiting: Sequence[OutboxEntry], request_id: str) -> OutboxEntry | None:
    """This person's approval or rejection of the request waiting in the outbox, if any:
    the decision is made (the outbox keeps one per request), only not yet sent."""
    return next((e for e in waiting if e.request_id == request_id and e.is_decision), None)


def kept_decision_reason(waiting: Sequence[OutboxEntry], request_id: str) -> str:
    """Why this person cannot decide on the request again while their decision on it
    waits in the outbox ('' when none waits)."""
    kept = kept_decision(waiting, request_id)
    if kept is None:
        return ""
    return (
        f"Your {kept.noun} of this request is already waiting in the outbox; it is sent, "
        "and counts, when Gavel next reaches the team ledger."
    )


class Fate(StrEnum):
    RECORDED = "recorded"  # appended as the decision it describes
    SUPERSEDED = "superseded"  # kept as decision.superseded: it no longer applied
    ALREADY = "already recorded"  # on the ledger before this flush (a crash after sending)


@dataclass(frozen=True)
class OutboxEntry:
    """One decision in the outbox: the signed intent, and its fate once sent."""

    document: Mapping[str, Any]
    signature: str  # base64, as stored and as embedded in the ledger event
    key_id: str
    fate: Fate | None = None
    seq: int | None = None
    why: str = ""

    @property
    def intent_id(self) -> str:
        return str(self.document.get("id", ""))

    @property
    def action(self) -> str:
        return str(self.document.get("action", ""))

    @property
    def noun(self) -> str:
        return _NOUNS.get(self.action, self.action)

    @property
    def request_id(self) -> str:
        return str(self.document.get("subject", "")).removeprefix("request:")

    @property
    def actor(self) -> str:
        return str(self.document.get("actor", ""))

    @property
    def reason(self) -> str:
        return str(self.document.get("reason", ""))

    @property
    def made_at(self) -> str:
        return str(self.document.get("made_at", ""))

    @property
    def replica_seq(self) -> int:
        head = self.document.get("replica_head")
        seq = head.get("seq") if isinstance(head, Mapping) else None
        return seq if isinstance(seq, int) else 0

    @property
    def waiting(self) -> bool:
        return self.fate is None

    @property
    def is_decision(self) -> bool:
        return self.action in _DECISIONS

    def offline_block(self) -> dict[str, Any]:
        """What the ledger event carries in ``after.offline`` (see domain.offline)."""
        return {"intent": dict(self.document), "signature": self.signature, "key_id": self.key_id}

    def describe(self) -> str:
        """'approval of request 3f2a… made 2026-12-03 09:14 UTC against replica event 812'."""
        made = self.made_at.replace("T", " ")[:16]
        return (
            f"{self.noun} of request {self.request_id[:12]} by {self.actor}, made {made} UTC "
            f"against replica event {self.replica_seq:,}"
        )

    def sentence(self) -> str:
        """What happened to it, for its author."""
        what = self.describe()
        if self.fate is None:
            return f"Waiting to be sent: {what}."
        if self.fate is Fate.RECORDED:
            return f"Sent: {what}; recorded as event {self.seq:,}."
        if self.fate is Fate.ALREADY:
            return f"Sent: {what}; it was already on the team ledger."
        return f"Superseded: {what}; not counted, because {self.why}"


@dataclass(frozen=True)
class FlushResult:
    sent: tuple[OutboxEntry, ...]
    # Lines of the outbox file that could not be read (a crash mid-write): kept, named.
    damaged: tuple[int, ...] = ()
    # Why this desktop's replica could not be brought up to date afterwards ('' if it was).
    replica: str = ""

    @property
    def superseded(self) -> list[OutboxEntry]:
        return [e for e in self.sent if e.fate is Fate.SUPERSEDED]

    def summary(self) -> str:
        if not self.sent:
            return "The outbox is empty: nothing waited to be sent."
        recorded = sum(1 for e in self.sent if e.fate is not Fate.SUPERSEDED)
        n = len(self.sent)
        text = f"Sent {n} decision{'s' if n != 1 else ''} made offline: {recorded} recorded"
        if self.superseded:
            text += f", {len(self.superseded)} superseded (not counted)"
        text += "."
        if self.replica:
            text += f" {self.replica}"
        return text


class OutboxService:
    def __init__(
        self,
        outbox: OutboxFile,
        governance: GovernanceService,
        authority: AuthorityLedger,
        actor: Actor,
        portfolio: PortfolioService,
        offline_reason: Callable[[], str],
        after_write: AfterWrite = lambda: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        reconnect: Callable[[], object] | None = None,
    ) -> None:
        """offline_reason: why the team ledger cannot be written now ('' when it can;
        always '' in solo mode and in an audit session, where there is no outbox).
        reconnect: try the team ledger again when it was lost while Gavel ran (raises
        if it still does not answer); None where it cannot come back without a restart
        (Gavel started without it)."""
        self._file = outbox
        self._gov = governance
        self._authority = authority
        self._actor = actor
        self._portfolio = portfolio
        self._offline_reason = offline_reason
        self._after_write = after_write
        self._clock = clock
        self._reconnect = reconnect

    @property
    def collecting(self) -> bool:
        """Whether decisions go to the outbox now (the team ledger is out of reach)."""
        return bool(self._offline_reason())

    # ---------------------------------------------------------------- reading

    def contents(self) -> tuple[list[OutboxEntry], list[int]]:
        """Every decision ever kept here, oldest first, with its fate once sent; and the
        numbers of the file's lines that could not be read (one read of the file)."""
        lines = self._file.read()
        return [_entry(record, lines.sent) for record in lines.intents], lines.damaged

    def entries(self) -> list[OutboxEntry]:
        return self.contents()[0]

    def waiting(self) -> list[OutboxEntry]:
        return [e for e in self.entries() if e.waiting]

    # ---------------------------------------------------------------- deciding

    def decide(
        self, request_id: str, meaning: SignatureMeaning, comment: str, passphrase: str
    ) -> OutboxEntry:
        """Approve or reject while the team ledger is out of reach: checked against the
        replica like any decision, signed, and kept until it can be sent."""
        self._require_collecting()
        # One decision per person and request: a second kept beside the first would only
        # be superseded when sent, after the person believed it counted.
        why = kept_decision_reason(self.waiting(), request_id)
        if why:
            raise UsageError(why)
        prepared = self._gov.prepare_decision(request_id, meaning, comment)
        view = prepared.view
        policy = {"tier": view.tier, "digest": policy_digest(view.policy.to_json())}
        return self._keep(
            prepared.action,
            view.request.request_id,
            prepared.manifest,
            comment.strip(),
            passphrase,
            policy,
        )

    def comment(self, request_id: str, text: str, passphrase: str) -> OutboxEntry:
        self._require_collecting()
        if not text.strip():
            raise UsageError("A comment cannot be empty.")
        request = self._gov.request(request_id)
        return self._keep(
            LedgerAction.COMMENT_ADDED, request.request_id, None, text.strip(), passphrase, None
        )

    def sign_decision(
        self, request_id: str, meaning: SignatureMeaning, comment: str, passphrase: str
    ) -> PromotionRequest | OutboxEntry:
        """Approve or reject on the team ledger; or, while it is out of reach (since
        start-up, or found so by this very write), into the outbox.

        A write whose connection dropped may have reached the ledger all the same: the
        copy kept here is then judged a second approval by the same person when sent,
        and superseded, so it never counts twice.
        """
        return self._online_or_kept(
            lambda: self._gov.decide(request_id, meaning, comment, passphrase),
            lambda: self.decide(request_id, meaning, comment, passphrase),
        )

    def sign_comment(
        self, request_id: str, text: str, passphrase: str
    ) -> PromotionRequest | OutboxEntry:
        """Comment on the team ledger, or into the outbox while it is out of reach."""
        return self._online_or_kept(
            lambda: self._gov.comment(request_id, text, passphrase),
            lambda: self.comment(request_id, text, passphrase),
        )

    def _online_or_kept(
        self, online: Callable[[], PromotionRequest], kept: Callable[[], OutboxEntry]
    ) -> PromotionRequest | OutboxEntry:
        if not self.collecting:
            try:
                return online()
            except StoreUnreachable:
                if not self.collecting:
                    raise  # not a team ledger that was lost: nothing to keep it for
        return kept()

    @property
    def can_reconnect(self) -> bool:
        """Whether trying again may bring the team ledger back (it was lost while Gavel
        ran; a desktop that started without it needs a restart)."""
        return self._reconnect is not None and self.collecting

    def reconnect(self) -> bool:
        """Try the team ledger again after it stopped answering; whether it answers."""
        if self._reconnect is not None and self._offline_reason():
            try:
                self._reconnect()
            except GavelError as exc:
                log.info("team ledger still out of reach: %s", exc.message)
        return not self._offline_reason()

    def _require_collecting(self) -> None:
        if not self.collecting:
            raise UsageError(
                "The ledger accepts decisions now: sign them directly (the outbox is only "
                "for decisions made while the team ledger is out of reach)."
            )

    def _keep(
        self,
        action: LedgerAction,
        request_id: str,
        after: Mapping[str, Any] | None,
        reason: str,
        passphrase: str,
        policy: Mapping[str, Any] | None,
    ) -> OutboxEntry:
        me = self._actor.user_id()
        signer = self._actor.signer(passphrase)
        # What the decision was checked against: the fold's last event (the replica's
        # head when Gavel started offline; the team ledger's last one read when it was
        # lost while Gavel ran).
        head = self._authority.head()
        if head is None:
            raise LedgerError("This desktop holds no replica of the team ledger to decide on.")
        document = intent_document(
            intent_id=uuid.uuid4().hex,
            actor=me,
            action=action.value,
            subject=request_subject(request_id),
            after=after,
            reason=reason,
            made_at=self._clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            replica_seq=head.seq,
            replica_hash=head.hash,
            policy=policy,
        )
        digest = intent_digest(document)
        if digest is None:  # pragma: no cover - every field above has a canonical form
            raise UsageError("This decision has no canonical form to sign.")
        signature = base64.b64encode(signer.sign(digest)).decode("ascii")
        self._file.append(
            INTENT, {"intent": document, "signature": signature, "key_id": signer.key_id}
        )
        log.info(
            "offline %s of %s kept in the outbox (%s)", action.value, request_id, document["id"]
        )
        return OutboxEntry(document, signature, signer.key_id)

    # ---------------------------------------------------------------- sending

    def flush(
        self, progress: ProgressCallback = no_progress, cancel: CancelToken | None = None
    ) -> FlushResult:
        """Send every waiting decision to the team ledger, oldest first."""
        self.reconnect()
        reason = self._offline_reason()
        if reason:
            raise LedgerError(
                f"{_sentence(reason)} The outbox keeps its decisions until it can be sent."
            )
        entries, damaged = self.contents()
        waiting = [e for e in entries if e.waiting]
        sent: list[OutboxEntry] = []
        try:
            for done, entry in enumerate(waiting):
                if cancel is not None:
                    cancel.raise_if_cancelled()
                progress(Progress("Sending decisions made offline", done, len(waiting)))
                outcome = self._send(entry)
                self._file.append(
                    SENT,
                    {
                        "id": entry.intent_id,
                        "fate": outcome.fate.value if outcome.fate else "",
                        "seq": outcome.seq,
                        "why": outcome.why,
                        "at": self._clock().astimezone(UTC).isoformat(),
                    },
                )
                sent.append(outcome)
        finally:
            replica = self._refresh_replica() if sent else ""
        progress(Progress("Sending decisions made offline", len(waiting), len(waiting)))
        return FlushResult(tuple(sent), tuple(damaged), replica)

    def _refresh_replica(self) -> str:
        """Bring this desktop's replica up to what was sent; '' when it worked, else why.

        The decisions are on the team ledger and their fates noted whatever happens
        here: a replica another Gavel of this profile was pulling at the same moment
        catches up at the next pull, so this is said, not raised.
        """
        try:
            self._after_write()
        except GavelError as exc:
            log.warning("replica not updated after sending the outbox: %s", exc.message)
            return exc.message
        return ""

    def _send(self, entry: OutboxEntry) -> OutboxEntry:
        try:
            base64.b64decode(entry.signature, validate=True)
        except (binascii.Error, ValueError):
            why = "its signature in the outbox file is damaged."
            return _with(entry, Fate.SUPERSEDED, None, why)
        tiers = self._portfolio.risk_tiers()
        now = self._clock()
        offline = entry.offline_block()
        # What the cache says of the version now (moved alias, recreated version, changed
        # metrics or datasets): an approval of what can no longer be applied as requested
        # is refused online, so it is superseded here. A rejection still closes it.
        blocked = ""
        if entry.action == LedgerAction.REQUEST_APPROVED.value:
            try:
                blocked = self._gov.view_of(entry.request_id).blocked
            except GavelError:
                blocked = ""  # no such request: judged under the lock below
        found: dict[str, Any] = {}

        def superseded(why: str) -> LedgerDraft:
            found.update(fate=Fate.SUPERSEDED, why=why)
            return LedgerDraft(
                entry.actor,
                LedgerAction.DECISION_SUPERSEDED.value,
                request_subject(entry.request_id),
                after={"offline": offline, "superseded": why},
                reason=why,
            )

        def build(s: AuthorityState) -> list[LedgerDraft]:
            found.clear()
            if entry.intent_id in s.intents:
                found.update(fate=Fate.ALREADY)
                return []
            why = _no_longer_applies(s, entry, tiers, now, blocked)
            if why:
                return [superseded(why)]
            found.update(fate=Fate.RECORDED)
            body = dict(entry.document.get("after") or {})
            return [
                LedgerDraft(
                    entry.actor,
                    entry.action,
                    request_subject(entry.request_id),
                    after={**body, "offline": offline},
                    reason=entry.reason,
                )
            ]

        def refused(_draft: LedgerDraft, refusal: Refusal) -> LedgerDraft:
            return superseded(_sentence(refusal.reason))

        try:
            events = self._authority.write(None, build, on_refusal=refused)
        except GavelError:
            log.warning("offline decision %s not sent", entry.intent_id)
            raise
        seq = events[0].seq if events else None
        return _with(entry, found.get("fate", Fate.RECORDED), seq, str(found.get("why", "")))


def _entry(record: Mapping[str, Any], sent: Mapping[str, Mapping[str, Any]]) -> OutboxEntry:
    """An outbox line's intent, with the fate its 'sent' line recorded (if any)."""
    document = record["intent"]
    signed = (document, str(record.get("signature", "")), str(record.get("key_id", "")))
    fate_line = sent.get(str(document.get("id")))
    if fate_line is None:
        return OutboxEntry(*signed)
    try:
        fate: Fate | None = Fate(str(fate_line.get("fate")))
    except ValueError:
        fate = None
    seq = fate_line.get("seq")
    return OutboxEntry(
        *signed, fate, seq if isinstance(seq, int) else None, str(fate_line.get("why", ""))
    )


def _with(entry: OutboxEntry, fate: Fate, seq: int | None, why: str) -> OutboxEntry:
    return OutboxEntry(entry.document, entry.signature, entry.key_id, fate, seq, why)


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith(".") else text + "."


def _no_longer_applies(
    s: AuthorityState,
    entry: OutboxEntry,
    tiers: Mapping[tuple[str, str], str],
    now: datetime,
    blocked: str = "",
) -> str:
    """Why a decision made offline no longer applies at this point of the ledger ('' if
    it does; the fold then judges it as it judges every decision).

    blocked: why the request cannot be applied as requested, from the cache ('' if it can).
    """
    request = s.requests.get(entry.request_id)
    if request is None:
        return f"request {entry.request_id} is not on the team ledger."
    if entry.action not in _DECISIONS:
        return ""
    view = request_view(s, request, tiers, now)
    state = view.request.state
    if state is not RequestState.PENDING:
        why = f" ({view.request.state_reason})" if view.request.state_reason else ""
        return (
            f"request {entry.request_id[:12]} was already {state.value}{why} when the "
            "decision reached the team ledger."
        )
    if view.request.claim is not None:
        return f"request {entry.request_id[:12]} was being applied by {view.request.claim.actor}."
    if blocked:
        return f"it can no longer be applied as requested: {blocked}."
    decided_under = entry.document.get("policy")
    if isinstance(decided_under, Mapping) and decided_under.get("digest") != policy_digest(
        view.policy.to_json()
    ):
        before = decided_under.get("tier", "?")
        return (
            f"the policy that applies changed since it was decided (then the {before}-risk "
            f"policy as it was, now the {view.tier}-risk policy as it is): it must be "
            "decided again under the policy in force."
        )
    return ""
