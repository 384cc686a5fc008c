"""The delivery report: facts gathered from the ledger and the cache, measured by
``domain.delivery``.

Where each fact comes from:

- production moves: ``promotion.applied`` events the authority fold accepted (a refused
  one moved nothing Gavel vouches for), ``alias.observed`` events of a production
  alias and ``registry.change_observed`` stage moves into or out of ``Production``
  (including the first comparison's baseline), all from the ledger;
- requests, decisions and applies: the authority fold (``AuthorityLedger.read``), so
  only events it accepted count;
- serving drift: ``serving.drift_observed`` / ``serving.drift_resolved`` on the ledger;
- outages: the endpoint samples this desk's polling stored in the cache;
- version registration times: the registry's creation timestamp, as the request
  recorded it, else as the cache holds it; teams: the models' ``team`` tag (cache).

The ledger part is kept incrementally: the events read so far are summarised once
(``_LedgerFacts``), and each report reads only the events appended since, through the
ledger's action index. The first report on a large ledger pays for the read once.

Blocking and thread-safe.
"""

from __future__ import annotations

import csv
import json
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from app.domain.authority import AuthorityState
from app.domain.cancel import CancelToken
from app.domain.delivery import (
    PRODUCTION_STAGE,
    DeliveryFilter,
    DeliveryInputs,
    DeliveryReport,
    Incident,
    IncidentKind,
    ProductionMove,
    RequestOutcome,
    RequestRecord,
    alias_target,
    delivery_report,
    is_production_alias,
    stage_target,
)
from app.domain.delivery_tables import Table, csv_rows
from app.domain.endpoints import EndpointConfig
from app.domain.errors import Cancelled, GavelError, UsageError
from app.domain.governance import (
    PromotionRequest,
    RequestState,
    SignatureMeaning,
    stage_name,
)
from app.domain.ledger import LedgerAction, LedgerEvent
from app.domain.ledger_query import alias_move_of, stage_move_of
from app.domain.progress import Progress, ProgressCallback, no_progress
from app.services.authority import AuthorityLedger
from app.services.governance import state_now
from app.stores.endpoint_history import EndpointHistory
from app.stores.portfolio_queries import PortfolioQueries

# The ledger actions the report reads (through the action index).
DELIVERY_ACTIONS: tuple[str, ...] = (
    LedgerAction.PROMOTION_APPLIED.value,
    LedgerAction.ALIAS_OBSERVED.value,
    LedgerAction.REGISTRY_CHANGE_OBSERVED.value,
    LedgerAction.SERVING_DRIFT_OBSERVED.value,
    LedgerAction.SERVING_DRIFT_RESOLVED.value,
)
_DRIFT_ACTIONS = frozenset(
    {LedgerAction.SERVING_DRIFT_OBSERVED.value, LedgerAction.SERVING_DRIFT_RESOLVED.value}
)
# Ledger events read per query (progress and cancel are checked between spans).
_SPAN = 100_000

EndpointModels = Callable[[], Mapping[str, tuple[str, str]]]


@dataclass
class _LedgerFacts:
    """What the ledger says about production moves and drift, up to ``scanned``."""

    scanned: int = 0
    moves: list[ProductionMove] = field(default_factory=list)
    # promotion.applied events: seq -> move; a report keeps those the fold accepted.
    applied: dict[int, ProductionMove] = field(default_factory=dict)
    drifts: list[Incident] = field(default_factory=list)
    # (subject, endpoint) -> index in drifts of the drift still open.
    open_drifts: dict[tuple[str, str], int] = field(default_factory=dict)
    # Stage Production holders per model, to tell a version leaving it.
    stage_holder: dict[tuple[str, str], int | None] = field(default_factory=dict)

    def add_body(self, seq: int, body: bytes) -> None:
        """Summarise one stored event from its canonical bytes; an unreadable one is
        skipped (it is verification's business, not a metric's)."""
        try:
            doc = json.loads(body)
            e = doc["event"]
            action, subject, after = e["action"], e["subject"], e["after"]
            at = datetime.fromisoformat(e["ts"])
            if action in _DRIFT_ACTIONS:
                # Most of a big ledger: handled from the document, no event built.
                self._drift(subject, action, after, at)
                return
            ev = LedgerEvent(
                seq, at, e["actor"], action, subject, e["before"], after, e["reason"],
                doc["prev"], "", doc["signer"],
            )  # fmt: skip
            if subject.startswith("registry:"):
                self._stage_baseline(ev)
            elif subject.startswith("model:"):
                self._move(ev)
        except (ValueError, KeyError, TypeError, AttributeError, UsageError):
            return  # e.g. a time with no offset: not an event Gavel wrote

    def _model(self, subject: str) -> tuple[str, str]:
        registry, _, model = subject[len("model:") :].partition("/")
        return registry, model

    def _move(self, ev: LedgerEvent) -> None:
        registry, model = self._model(ev.subject)
        after = ev.after if isinstance(ev.after, Mapping) else {}
        applied = ev.action == LedgerAction.PROMOTION_APPLIED.value
        request_id = after.get("request_id") if applied else None
        rid = request_id if isinstance(request_id, str) else None
        alias = alias_move_of(ev)
        if alias is not None:
            if not is_production_alias(alias.alias):
                return
            # A sync's first sight of a registry records its aliases as the baseline.
            baseline = ev.action == LedgerAction.ALIAS_OBSERVED.value and not after.get(
                "unapproved"
            )
            move = ProductionMove(
                ev.seq,
                ev.at,
                registry,
                model,
                alias_target(alias.alias),
                alias.after,
                rid,
                baseline,
            )
        else:
            stage = stage_move_of(ev)
            if stage is None:
                return
            key = (registry, model)
            held = self.stage_holder.get(key)
            if stage_name(stage.after) == PRODUCTION_STAGE:
                version: int | None = stage.version
            elif held == stage.version:
                version = None  # the version in Production left it
            else:
                return
            self.stage_holder[key] = version
            move = ProductionMove(
                ev.seq, ev.at, registry, model, stage_target(), version, rid, False
            )
        if applied:
            self.applied[ev.seq] = move
        else:
            self.moves.append(move)

    def _stage_baseline(self, ev: LedgerEvent) -> None:
        after = ev.after if isinstance(ev.after, Mapping) else {}
        table = after.get("stages")
        if not isinstance(table, Mapping):
            return
        registry = ev.subject[len("registry:") :]
        for model, per in table.items():
            if not isinstance(per, Mapping):
                continue
            found = [
                int(v)
                for v, s in per.items()
                if str(v).isdigit() and isinstance(s, str) and stage_name(s) == PRODUCTION_STAGE
            ]
            if not found:
                continue
            version = max(found)
            self.stage_holder[(registry, str(model))] = version
            self.moves.append(
                ProductionMove(
                    ev.seq, ev.at, registry, str(model), stage_target(), version, None, True
                )
            )

    def _drift(self, subject: str, action: str, after: object, at: datetime) -> None:
        details = after if isinstance(after, Mapping) else {}
        endpoint = str(details.get("endpoint", ""))
        key = (subject, endpoint)
        index = self.open_drifts.get(key)
        if action == LedgerAction.SERVING_DRIFT_OBSERVED.value:
            if index is None and subject.startswith("model:"):
                registry, model = self._model(subject)
                self.open_drifts[key] = len(self.drifts)
                self.drifts.append(Incident(registry, model, endpoint, IncidentKind.DRIFT, at))
            return
        if index is not None:
            del self.open_drifts[key]
            was = self.drifts[index]
            self.drifts[index] = Incident(
                was.registry, was.model, endpoint, IncidentKind.DRIFT, was.started_at, at
            )


class DeliveryService:
    """Delivery metrics for the console and ``gavel report delivery``."""

    def __init__(
        self,
        authority: AuthorityLedger,
        queries: PortfolioQueries,
        history: EndpointHistory | None = None,
        endpoint_models: EndpointModels | None = None,
    ) -> None:
        self._authority = authority
        self._queries = queries
        self._history = history
        self._endpoint_models = endpoint_models or dict
        self._lock = threading.Lock()
        self._facts = _LedgerFacts()
        self._records: _RecordCache = {}

    def teams(self) -> list[str]:
        """The teams the cached models name, for a filter."""
        return sorted(
            {t for t in self._queries.team_of_models().values() if t.strip()}, key=str.casefold
        )

    def report(
        self,
        flt: DeliveryFilter | None = None,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
        now: datetime | None = None,
    ) -> DeliveryReport:
        return delivery_report(self.inputs(progress, cancel, now), flt)

    def inputs(
        self,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
        now: datetime | None = None,
    ) -> DeliveryInputs:
        """Every fact the metrics use, the ledger's brought up to its head first; open
        requests as they stand at ``now`` (the clock when not given)."""
        with self._lock:
            self._catch_up(progress, cancel)
            moves_seen = list(self._facts.moves)
            applied = dict(self._facts.applied)
            drifts = list(self._facts.drifts)
        progress(Progress("Reading promotion requests"))
        tiers = self._queries.risk_tiers()
        now = now or datetime.now(UTC)
        with self._lock:
            cache = self._records
            requests, accepted = self._authority.read(lambda s: _requests(s, cache, tiers, now))
        moves = sorted(
            [*moves_seen, *(m for seq, m in applied.items() if seq in accepted)],
            key=lambda m: m.seq,
        )
        teams = self._queries.team_of_models()
        known = {(r.registry, r.model, r.version) for r in requests if r.version_created_at}
        wanted = {
            (m.registry, m.model, m.version)
            for m in moves
            if m.version is not None and not m.baseline
        } - known
        created = {
            k: datetime.fromtimestamp(ms / 1000, UTC)
            for k, ms in self._queries.version_created(wanted).items()
        }
        return DeliveryInputs(
            moves=moves,
            requests=requests,
            incidents=[*drifts, *self._outages()],
            teams=teams,
            created=created,
        )

    def _catch_up(self, progress: ProgressCallback, cancel: CancelToken | None) -> None:
        store = self._authority.audit.store
        head = store.head()
        last = head.seq if head is not None else 0
        facts = self._facts
        start = facts.scanned + 1
        for lo in range(start, last + 1, _SPAN):
            if cancel is not None and cancel.cancelled:
                raise Cancelled("The delivery report was cancelled.")
            hi = min(lo + _SPAN - 1, last)
            progress(Progress("Reading the audit ledger", lo - start, last - start + 1))
            with closing(store.iter_action_bodies(DELIVERY_ACTIONS, lo, hi)) as chunks:
                for rows in chunks:
                    for seq, body in rows:
                        facts.add_body(seq, bytes(body))
            facts.scanned = hi

    def _outages(self) -> list[Incident]:
        if self._history is None:
            return []
        models = self._endpoint_models()
        out: list[Incident] = []
        open_: dict[str, datetime] = {}
        for name, at_ms, down in self._history.up_down_changes():
            at = datetime.fromtimestamp(at_ms / 1000, UTC)
            if down:
                open_.setdefault(name, at)
                continue
            started = open_.pop(name, None)
            if started is not None and name in models:
                registry, model = models[name]
                out.append(Incident(registry, model, name, IncidentKind.OUTAGE, started, at))
        for name, started in open_.items():
            if name in models:
                registry, model = models[name]
                out.append(Incident(registry, model, name, IncidentKind.OUTAGE, started))
        return out


# request id -> (how many events the fold had accepted for it, its state now, whether its
# policy was satisfied), and its copy.
_RecordCache = dict[str, tuple[tuple[int, RequestState, bool], RequestRecord]]


def _requests(
    state: AuthorityState,
    cache: _RecordCache,
    tiers: Mapping[tuple[str, str], str],
    now: datetime,
) -> tuple[list[RequestRecord], set[int]]:
    """Copies of the fold's requests, and the seqs of the applies it accepted.

    An open request's state is worked out as the Approvals page works it out: approved
    once its policy is satisfied, expired past its policy's limit (the fold records
    events, never the policy's verdict or the clock's).

    A request changes only by events the fold accepts for it, or by that verdict: its
    copy is made again only when one of them changed, so a report after a few new
    events does not copy ten thousand requests.
    """
    records, accepted = [], set()
    for rid, request in state.requests.items():
        now_state, satisfied = request.state, request.state is RequestState.APPLIED
        if request.is_open:
            now_state, status = state_now(state, request, tiers, now)
            satisfied = status.satisfied
        mark = (len(request.event_seqs), now_state, satisfied)
        held = cache.get(rid)
        if held is None or held[0] != mark:
            held = (mark, request_record(request, now_state, satisfied))
            cache[rid] = held
        records.append(held[1])
        if request.applied_seq is not None:
            accepted.add(request.applied_seq)
    return records, accepted


_OUTCOMES = {
    RequestState.PENDING: RequestOutcome.PENDING,
    RequestState.APPROVED: RequestOutcome.APPROVED,
    RequestState.REJECTED: RequestOutcome.REJECTED,
    RequestState.APPLIED: RequestOutcome.APPLIED,
}


def request_record(
    request: PromotionRequest, state: RequestState | None = None, approved: bool = False
) -> RequestRecord:
    """A request as the delivery metrics see it, in ``state`` (its state now, worked out
    by ``current_state``; the fold's when not given); ``approved``: its policy was
    satisfied (an approved request left to expire was still decided).

    Its decision is the rejection, or the last approval recorded before it was applied
    (when it became approved); it was applied when the fold closed it as applied. An
    expired request counts as closed.
    """
    state = request.state if state is None else state
    outcome = _OUTCOMES.get(state, RequestOutcome.CLOSED)
    decided: datetime | None = None
    rejections = [d for d in request.decisions if d.meaning is SignatureMeaning.REJECTION]
    if rejections:
        decided = rejections[0].at
    elif approved or state in (RequestState.APPROVED, RequestState.APPLIED):
        approvals = [
            d.at
            for d in request.approvals
            if request.closed_at is None or d.at <= request.closed_at
        ]
        decided = max(approvals) if approvals else None
    applied = request.closed_at if state is RequestState.APPLIED else None
    ts = request.identity.creation_timestamp
    return RequestRecord(
        request_id=request.request_id,
        registry=request.identity.registry,
        model=request.identity.model,
        version=request.identity.version,
        requested_at=request.created_at,
        outcome=outcome,
        decided_at=decided,
        applied_at=applied,
        version_created_at=None if ts is None else datetime.fromtimestamp(ts / 1000, UTC),
    )


def endpoint_models(configs: Callable[[], Sequence[EndpointConfig]]) -> EndpointModels:
    """endpoint name -> (registry, model), from the endpoint configurations."""
    return lambda: {cfg.name: (cfg.registry, cfg.model) for cfg in configs()}


# A cell a spreadsheet would run as a formula starts with one of these.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def export_csv(table: Table, path: Path) -> Path:
    """Write one table of the report as CSV (UTF-8, header first), whole or not at all.

    Cells a spreadsheet would read as a formula are written with a leading apostrophe,
    so a model name cannot run anything on the reader's machine.
    """
    tmp = path.with_name(f".{path.name}.part")
    try:
        with tmp.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            for row in csv_rows(table):
                writer.writerow([f"'{c}" if c.startswith(_FORMULA_START) else c for c in row])
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise GavelError(
            f"The table '{table.title}' could not be written to {path} ({exc.strerror or exc}). "
            "Choose a folder you can write to."
        ) from None
    return path
