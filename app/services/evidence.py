"""Evidence packs: every fact a regulator needs about one promotion request, or one model
version, read once from the ledger's fold, the cache and the audit ledger.

The pack is a tree of frozen dataclasses (`EvidencePack`); `evidence_html` writes it as
HTML and `app.ui.common.reports` adds charts and the PDF. Decisions carry their signature
manifestation (21 CFR 11.50: printed name, user id, UTC time, meaning) with the key
that signed them and what the authority fold judged of that signature: an event's own
claim about who signed it is never taken on trust.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.domain.authority import AuthorityState
from app.domain.entities import MetricPoint
from app.domain.errors import UsageError
from app.domain.governance import CHECKLIST, Identity, Policy, request_subject
from app.domain.ledger import Checkpoint, LedgerAction, LedgerEvent
from app.domain.ledger_query import AliasMove, LedgerQuery, model_subject
from app.domain.lineage import tree_lines
from app.domain.performance import VersionComparison, compare_runs
from app.domain.portfolio import ModelDetail, RunDetail, VersionRow
from app.services.audit import AuditService
from app.services.governance import GovernanceService, RequestView
from app.services.lineage import LineageService
from app.services.observations import ChangeObserver, Violation
from app.services.portfolio import PortfolioService

# Signed request events and the meaning their signature carries (21 CFR 11.50(a)(3)).
MEANINGS: Mapping[str, str] = {
    LedgerAction.REQUEST_CREATED: "requested",
    LedgerAction.REQUEST_APPROVED: "approved",
    LedgerAction.REQUEST_REJECTED: "rejected",
    LedgerAction.REQUEST_WITHDRAWN: "withdrawn",
    LedgerAction.COMMENT_ADDED: "commented",
    LedgerAction.PROMOTION_APPLY_STARTED: "began applying",
    LedgerAction.PROMOTION_APPLIED: "applied",
    LedgerAction.PROMOTION_APPLY_FAILED: "apply failed",
}
_DRIFT = (LedgerAction.SERVING_DRIFT_OBSERVED.value, LedgerAction.SERVING_DRIFT_RESOLVED.value)
# Metric histories charted per version: the first few, in the cache's metric order.
MAX_CHARTED_METRICS = 4

VERIFY_HOW = (
    "To verify: 'gavel audit export --out ledger.jsonl', then "
    "'python tools/verify_ledger.py ledger.jsonl --checkpoint {checkpoint}' (no Gavel "
    "needed, see docs/ledger-format.md) or 'gavel audit verify --checkpoint {checkpoint}': "
    "the ledger must still extend this checkpoint and every event listed here must carry "
    "the hash printed beside it."
)


@dataclass(frozen=True)
class Signature:
    """One signed act on a request, as the authority fold judged it.

    verification: 'verified' when the fold accepted the event (its signature checks
        against the key enrolled for its author and approved, and the author held the
        authority then), else 'refused: <why>'.
    """

    seq: int
    action: str
    meaning: str
    printed_name: str
    user_id: str
    at: datetime
    key_id: str
    verification: str
    comment: str
    event_hash: str

    @property
    def verified(self) -> bool:
        return self.verification == "verified"


@dataclass(frozen=True)
class ChecklistLine:
    item: str
    label: str
    reference: str
    required: bool


@dataclass(frozen=True)
class RequestEvidence:
    """A request, its policy and every signed act on it."""

    request_id: str
    target: str
    state: str
    state_reason: str
    requester: str
    requester_name: str
    created_at: datetime
    created_hash: str
    justification: str
    tier: str
    requested_tier: str
    policy: Policy
    policy_status: str
    blocked: str
    notes: tuple[str, ...]
    alias_version_at_request: int | None
    evidence_digest: str
    recorded_metrics: Mapping[str, float]
    recorded_datasets: tuple[str, ...]
    checklist: tuple[ChecklistLine, ...]
    signatures: tuple[Signature, ...]


@dataclass(frozen=True)
class VersionEvidence:
    """The version's identity, as the cache (last sync) holds it."""

    registry: str
    model: str
    version: int
    run_id: str
    source: str
    created_at: datetime | None
    creator: str
    status: str
    stage: str
    aliases: tuple[str, ...]
    model_description: str
    model_tags: Mapping[str, str]
    version_tags: Mapping[str, str]
    run: RunDetail | None
    synced_at: datetime | None


@dataclass(frozen=True)
class EventLine:
    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    hash: str
    signer: str


@dataclass(frozen=True)
class EvidencePack:
    """Everything an evidence pack states; `kind` is 'request' or 'version'."""

    kind: str
    title: str
    generated_at: datetime
    generated_by: str
    version: VersionEvidence
    requests: tuple[RequestEvidence, ...]
    lineage: tuple[str, ...]
    replaced_version: int | None
    comparison: VersionComparison | None
    metric_history: Mapping[str, tuple[MetricPoint, ...]]
    alias_history: tuple[AliasMove, ...]
    violations: tuple[Violation, ...]
    drift: tuple[EventLine, ...]
    events: tuple[EventLine, ...]
    checkpoint: Checkpoint | None
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def verify_how(self) -> str:
        cp = str(self.checkpoint) if self.checkpoint else "SEQ:HASH"
        return VERIFY_HOW.format(checkpoint=cp)


class EvidenceService:
    """Builds evidence packs (blocking: the fold, the cache and the ledger are read)."""

    def __init__(
        self,
        governance: GovernanceService,
        portfolio: PortfolioService,
        lineage: LineageService,
        audit: AuditService,
        observer: ChangeObserver,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._governance = governance
        self._portfolio = portfolio
        self._lineage = lineage
        self._audit = audit
        self._observer = observer
        self._clock = clock

    def for_request(self, request_id: str) -> EvidencePack:
        """The pack of one promotion request (an id or a unique prefix of one)."""
        view = self._governance.view_of(request_id)
        ident = view.request.identity
        title = f"Evidence pack: promotion request {view.request.request_id}"
        return self._pack("request", title, ident.registry, ident.model, ident.version, [view])

    def for_version(self, model: str, version: int, registry: str | None = None) -> EvidencePack:
        """The pack of one cached model version, with every request that named it."""
        if version < 1:
            raise UsageError("A version number starts at 1.")
        detail = self._portfolio.find_model(model, registry)
        views = [
            v
            for v in self._governance.views()
            if (v.request.identity.registry, v.request.identity.model, v.request.identity.version)
            == (detail.registry, detail.name, version)
        ]
        views.reverse()  # oldest first
        title = f"Evidence pack: {detail.name} version {version}"
        return self._pack("version", title, detail.registry, detail.name, version, views)

    # ------------------------------------------------------------------ building

    def _pack(
        self,
        kind: str,
        title: str,
        registry: str,
        model: str,
        version: int,
        views: Sequence[RequestView],
    ) -> EvidencePack:
        detail = self._portfolio.find_model(model, registry)
        row = next((v for v in detail.versions if v.version == version), None)
        if row is None:
            raise UsageError(
                f"Version {version} of '{model}' is not in the cache; sync '{registry}' first."
            )
        run = self._portfolio.run_detail(registry, row.run_id) if row.run_id else None
        facts = self._governance.authority.read(lambda s: _fold_facts(s, views))
        record = self._audit.events(sorted(facts.seqs))
        requests = tuple(_request_evidence(v, facts, record) for v in views)
        seqs = [s.seq for r in requests for s in r.signatures]

        aliases = set(detail.aliases) | {r.target.removeprefix("alias ") for r in requests}
        alias_moves = self._alias_moves(detail, row, views, aliases)
        violations = tuple(
            v
            for v in self._observer.violations(registry)
            if v.model == model and version in (v.before, v.after)
        )
        drift = tuple(
            _line(e)
            for e in self._audit.events(
                self._audit.seqs(
                    LedgerQuery(subject=model_subject(registry, model), actions=_DRIFT)
                )
            )
        )
        event_seqs = set(seqs) | {m.seq for m in alias_moves} | {v.seq for v in violations}
        event_seqs |= {d.seq for d in drift}
        events = tuple(_line(e) for e in self._audit.events(sorted(event_seqs)))

        replaced = _replaced_version(detail, row, views)
        comparison = None
        if replaced is not None:
            other = next(v for v in detail.versions if v.version == replaced)
            other_run = self._portfolio.run_detail(registry, other.run_id) if other.run_id else None
            comparison = compare_runs(model, replaced, other_run, version, run)
        history = {
            key: tuple(self._portfolio.metric_history(registry, row.run_id, key))
            for key in list(run.metrics)[:MAX_CHARTED_METRICS]
        } if run is not None else {}  # fmt: skip

        graph = self._lineage.lineage(registry, model, version)
        me = self._governance.actor.current()
        return EvidencePack(
            kind=kind,
            title=title,
            generated_at=self._clock(),
            generated_by=f"{me.display_name} ({me.user_id})" if me else "no identity on this desk",
            version=_version_evidence(detail, row, run),
            requests=requests,
            lineage=tuple(tree_lines(graph)),
            replaced_version=replaced,
            comparison=comparison,
            metric_history=history,
            alias_history=alias_moves,
            violations=violations,
            drift=drift,
            events=events,
            checkpoint=self._audit.store.head(),
            problems=tuple(p.describe() for p in self._governance.problems()),
        )

    def _alias_moves(
        self,
        detail: ModelDetail,
        row: VersionRow,
        views: Sequence[RequestView],
        aliases: set[str],
    ) -> tuple[AliasMove, ...]:
        """Every move of a requested alias; of the model's other aliases, those that
        reached or left this version."""
        requested = {v.request.alias for v in views if v.request.alias}
        moves: list[AliasMove] = []
        for alias in sorted(a for a in aliases if a and not a.startswith("stage ")):
            for move in self._audit.alias_history(detail.registry, detail.name, alias):
                if alias in requested or row.version in (move.before, move.after):
                    moves.append(move)
        return tuple(sorted(moves, key=lambda m: m.seq))


@dataclass(frozen=True)
class _FoldFacts:
    """What the fold says of the requests in a pack, copied out under its lock."""

    names: Mapping[str, Identity]
    # request id -> {seq: the key the fold checked} for every event it accepted into it
    records: Mapping[str, Mapping[int, str]]
    # seq -> why the fold refused it, for every refused event of the ledger
    refused: Mapping[int, str]

    @property
    def seqs(self) -> set[int]:
        return {seq for record in self.records.values() for seq in record} | set(self.refused)


def _fold_facts(s: AuthorityState, views: Sequence[RequestView]) -> _FoldFacts:
    records: dict[str, dict[int, str]] = {}
    for view in views:
        folded = s.requests.get(view.request.request_id)
        if folded is None:
            continue
        record = records.setdefault(folded.request_id, {})
        for seq in (folded.created_seq, *folded.event_seqs):
            record[seq] = ""
        # A decision made offline was signed as an intent with its own key: the fold
        # checked that one, so that is the key the pack names.
        for d in folded.decisions:
            record[d.seq] = d.signer or ""
    return _FoldFacts(
        names=dict(s.identities()),
        records=records,
        refused={p.seq: p.reason for p in s.problems},
    )


def _about(ev: LedgerEvent, request_id: str) -> bool:
    """Whether an event names the request (its subject, or the request id it carries)."""
    if ev.subject == request_subject(request_id):
        return True
    return isinstance(ev.after, Mapping) and ev.after.get("request_id") == request_id


def _signatures(
    request_id: str, facts: _FoldFacts, events: Sequence[LedgerEvent]
) -> tuple[Signature, ...]:
    """Every signed act on the request, accepted or refused by the fold, oldest first."""
    record = facts.records.get(request_id, {})
    out = []
    for ev in events:
        if ev.action not in MEANINGS:
            continue
        if ev.seq in record:
            verdict = "verified" if ev.signer else "not signed"
        elif ev.seq in facts.refused and _about(ev, request_id):
            verdict = f"refused by the ledger's rules: {facts.refused[ev.seq]}"
        else:
            continue
        out.append(
            Signature(
                seq=ev.seq,
                action=ev.action,
                meaning=MEANINGS[ev.action],
                printed_name=_name(facts.names, ev.actor),
                user_id=ev.actor,
                at=ev.at,
                key_id=record.get(ev.seq) or ev.signer or "",
                verification=verdict,
                comment=ev.reason,
                event_hash=ev.hash,
            )
        )
    return tuple(out)


def _request_evidence(
    view: RequestView, facts: _FoldFacts, record: Sequence[LedgerEvent]
) -> RequestEvidence:
    r = view.request
    required = set(view.policy.required_checklist)
    checklist = tuple(
        ChecklistLine(key, label, r.checklist.get(key, "").strip(), key in required)
        for key, label in CHECKLIST.items()
    )
    return RequestEvidence(
        request_id=r.request_id,
        target=r.target_name.replace("'", ""),
        state=r.state.value,
        state_reason=r.state_reason,
        requester=r.requester,
        requester_name=_name(facts.names, r.requester),
        created_at=r.created_at,
        created_hash=r.created_hash,
        justification=r.justification,
        tier=view.tier,
        requested_tier=r.risk_tier,
        policy=view.policy,
        policy_status=view.status.describe(),
        blocked=view.blocked_text,
        notes=view.notes,
        alias_version_at_request=r.alias_version_at_request,
        evidence_digest=r.evidence_digest,
        recorded_metrics=dict(r.evidence.metrics),
        recorded_datasets=tuple(r.evidence.dataset_digests),
        checklist=checklist,
        signatures=_signatures(r.request_id, facts, record),
    )


def _version_evidence(
    detail: ModelDetail, row: VersionRow, run: RunDetail | None
) -> VersionEvidence:
    return VersionEvidence(
        registry=detail.registry,
        model=detail.name,
        version=row.version,
        run_id=row.run_id,
        source=row.source,
        created_at=(
            datetime.fromtimestamp(row.creation_timestamp / 1000, tz=UTC)
            if row.creation_timestamp is not None
            else None
        ),
        creator=row.user_id,
        status=row.status,
        stage=row.current_stage,
        aliases=tuple(row.aliases),
        model_description=detail.description,
        model_tags=dict(detail.tags),
        version_tags=dict(row.tags),
        run=run,
        synced_at=detail.synced_at,
    )


def _replaced_version(
    detail: ModelDetail, row: VersionRow, views: Sequence[RequestView]
) -> int | None:
    """The version this one replaces: what the requested alias held when it was asked
    for, else the newest older version in the cache."""
    known = {v.version for v in detail.versions}
    for view in reversed(views):
        was = view.request.alias_version_at_request
        if was is not None and was != row.version and was in known:
            return was
    older = [v for v in known if v < row.version]
    return max(older) if older else None


def _name(names: Mapping[str, Identity], user_id: str) -> str:
    """The printed name a person declared (their user id when they declared none)."""
    ident = names.get(user_id)
    return ident.display_name if ident and ident.display_name else user_id


def _line(ev: LedgerEvent) -> EventLine:
    return EventLine(ev.seq, ev.at, ev.actor, ev.action, ev.subject, ev.hash, ev.signer or "")
