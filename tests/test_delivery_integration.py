"""Delivery metrics from a real MLflow registry and a real team ledger: a promotion
requested, approved by two people and applied through the services, then moved back
behind governance's back; the report and ``gavel report delivery`` measure both. Also
outages from endpoint polling, and CSV export."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.cli import main
from app.connectors.mlflow_registry import MlflowRegistryClient
from app.domain.delivery import DeliveryFilter, Distribution, IncidentKind, Rate
from app.domain.delivery_tables import Table, tables
from app.domain.endpoints import EndpointConfig, EndpointKind, EndpointSample
from app.domain.entities import MetricPoint
from app.domain.errors import GavelError
from app.domain.governance import Role
from app.domain.ledger import LedgerAction
from app.domain.ledger_query import model_subject
from app.domain.registry import RegistryConfig
from app.services.audit import AuditService
from app.services.delivery import export_csv
from app.services.observations import ChangeObserver
from app.stores.endpoint_store import EndpointStore
from app.stores.engine import sqlite_url
from app.stores.ledger_store import LedgerStore
from app.stores.migrate import open_ledger_database
from tests.fixtures.desks import Desk, DeskFactory, enrol
from tests.fixtures.mlflow import MlflowRegistry
from tests.ui_helpers import dead_url, make_context

CHECKLIST = {
    "validation_report": "VR-2026-031",
    "metrics_reviewed": "AUC, recall at 1% FPR",
    "bias_review": "BR-77",
    "rollback_plan": "move alias back to previous version",
}


def _seed(registry: MlflowRegistry, name: str) -> None:
    with MlflowRegistryClient(registry.config(), None) as c:
        exp = c.create_experiment(f"{name}-exp")
        c.create_registered_model(
            name, tags={"risk_tier": "high", "owner": "carl", "team": "Fraud Ops"}
        )
        for v in (1, 2, 3):
            run = c.create_run(exp, f"{name}-{v}", user_id="carl.ml", start_time=1, tags={})
            c.log_batch(run, {"depth": str(v)}, [MetricPoint("auc", 0.8 + v / 100, 0, 1)], {})
            c.update_run(run, "FINISHED", 2)
            c.create_model_version(name, source=f"runs:/{run}/model", run_id=run)
        c.set_registered_model_alias(name, "production", 1)


def _team(desks: DeskFactory, registry: MlflowRegistry) -> tuple[Desk, Desk, Desk]:
    ada, ann, bob, carl = (desks(u) for u in ("ada", "ann", "bob", "carl"))
    enrol(ada, ada, Role.REQUESTER)
    enrol(ada, ann, Role.APPROVER)
    enrol(ada, bob, Role.APPROVER)
    enrol(ada, carl, names=("carl.ml",))
    for desk in (ada, ann, bob):
        desk.ctx.registries.add(registry.config("reg"))
    return ada, ann, bob


def test_promotion_and_rollback_measured_from_ledger_and_registry(
    desks: DeskFactory,
    seeded_registry: MlflowRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    model = f"dl-{uuid.uuid4().hex[:8]}"
    _seed(seeded_registry, model)
    ada, ann, bob = _team(desks, seeded_registry)
    # The first sync records production -> v1 as the baseline: not a promotion.
    ada.ctx.sync.sync("reg")
    mine = DeliveryFilter(team="fraud ops")
    assert ada.ctx.delivery.report(mine).promotions == []

    rid = ada.ctx.governance.create_request(
        "reg", model, 2, "production", "Better recall.", CHECKLIST, passphrase=ada.passphrase
    ).request_id
    ann.ctx.governance.approve(rid, "Validation report checked.", ann.passphrase)
    bob.ctx.governance.approve(rid, "Bias review checked.", bob.passphrase)
    assert bob.ctx.promotions.apply(rid, bob.passphrase).applied

    report = ada.ctx.delivery.report(mine)
    [p] = report.promotions
    assert (p.model, p.version, p.request_id, p.team) == (model, 2, rid, "Fraud Ops")
    with MlflowRegistryClient(seeded_registry.config(), None) as c:
        registered = c.get_model_version(model, 2).creation_timestamp
    assert registered is not None
    assert p.lead_time == p.at - datetime.fromtimestamp(registered / 1000, UTC)
    o = report.overall
    assert (o.promotions, o.request_to_decision.count, o.request_to_applied.count) == (1, 1, 1)
    request = ada.ctx.governance.request(rid)
    assert o.request_to_applied.median == request.closed_at - request.created_at  # type: ignore[operator]
    assert o.rollback_rate == Rate(0, 1)

    # Someone moves production back to v1 in MLflow itself; the next sync sees it.
    with MlflowRegistryClient(seeded_registry.config(), None) as c:
        c.set_registered_model_alias(model, "production", 1)
    ann.ctx.sync.sync("reg")
    # A drift recorded on the model, then resolved (as the endpoint poller writes them).
    subject = model_subject("reg", model)
    for action in (LedgerAction.SERVING_DRIFT_OBSERVED, LedgerAction.SERVING_DRIFT_RESOLVED):
        ann.ctx.audit.record(
            "ann",
            action,
            subject,
            before={"alias": "production", "version": 1},
            after={"endpoint": "fraud-ep", "url": "http://127.0.0.1:1", "served_versions": [2]},
            reason="test drift",
        )

    # The same service catches up with what other desks appended since its last report.
    report = ada.ctx.delivery.report(mine)
    [rb] = report.rollbacks
    assert (rb.model, rb.from_version, rb.to_version) == (model, 2, 1)
    [p] = report.promotions
    assert p.failed_by == "rollback" and p.rolled_back_at == rb.at
    assert report.overall.rollback_rate == Rate(1, 1)
    assert report.overall.change_failure_rate == Rate(1, 1)
    [incident] = report.incidents
    assert incident.kind is IncidentKind.DRIFT and incident.endpoint == "fraud-ep"
    assert incident.restored_at is not None and report.overall.time_to_restore.count == 1
    assert report.overall.open_incidents == 0

    # Another team, or a period before it all, sees nothing.
    assert ada.ctx.delivery.report(DeliveryFilter(team="growth")).empty
    week_ago = datetime.now(UTC) - timedelta(days=7)
    assert ada.ctx.delivery.report(DeliveryFilter(end=week_ago)).empty

    # CSV export of a table: header first, one row per promotion.
    promotions = next(t for t in tables(report) if t.key == "promotions")
    out = export_csv(promotions, tmp_path / "promotions.csv")
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("promoted (UTC),team,registry,model,version")
    assert len(lines) == 2 and f",{model},2," in lines[1] and "rollback" in lines[1]

    # The command line prints the same figures.
    monkeypatch.setenv("GAVEL_HOME", str(ada.home))
    assert main(["report", "delivery", "--team", "Fraud Ops", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["overall"]["promotions"] == 1
    assert doc["overall"]["rollback_rate"] == {"numerator": 1, "denominator": 1, "rate": 1.0}
    assert doc["rollbacks"][0]["from_version"] == 2
    assert doc["promotions"][0]["request_id"] == rid
    assert main(["report", "delivery", "--team", "Fraud Ops"]) == 0
    text = capsys.readouterr().out
    assert "Rollback rate" in text and "100% (1 of 1)" in text
    assert main(["report", "delivery", "--from", "2026-02-30"]) == 2
    assert "is not a date for --from" in capsys.readouterr().err


def test_csv_export_refuses_formulas_and_unwritable_places(tmp_path: Path) -> None:
    t = Table("x", "X", "", ("model",), [("=HYPERLINK(1)",), ("-churn",), ("fraud",)])
    out = export_csv(t, tmp_path / "x.csv")
    assert out.read_text(encoding="utf-8").splitlines() == [
        "model",
        "'=HYPERLINK(1)",
        "'-churn",
        "fraud",
    ]
    with pytest.raises(GavelError, match="could not be written"):
        export_csv(t, tmp_path / "missing-folder" / "x.csv")


def test_outages_from_endpoint_polling_and_change_failure(tmp_path: Path) -> None:
    """Probes that found an endpoint down, then up, are an outage restored; the
    promotion the outage followed counts as a change failure."""
    t0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
    ctx = make_context(tmp_path / "home")
    try:
        ctx.registries.add(RegistryConfig(name="prod", url="http://prod.invalid"))
        ctx.endpoints.add(
            EndpointConfig(
                "scoring-eu", EndpointKind.OIP, dead_url(), "prod", "fraud", "production"
            )
        )
        now = [t0]
        audit = AuditService(
            LedgerStore(open_ledger_database(sqlite_url(ctx.paths.ledger_db)), clock=lambda: now[0])
        )
        observer = ChangeObserver(audit, ctx.identity)
        observer.observe("prod", {"fraud": {"production": 1}})
        now[0] = t0 + timedelta(days=1)
        observer.observe("prod", {"fraud": {"production": 2}})  # promoted with no request

        def at(minutes: int) -> int:
            return int((t0 + timedelta(days=2, minutes=minutes)).timestamp() * 1000)

        # up, down for 20 minutes (three probes), up; later down and never back.
        samples = [(0, 1.0), (10, 0.0), (20, 0.0), (30, 1.0), (40, 1.0), (90, 0.0)]
        EndpointStore(ctx.db).add_samples(
            "scoring-eu", [EndpointSample(at(m), 0, 1, up) for m, up in samples]
        )
        report = ctx.delivery.report()
        outages = [i for i in report.incidents if i.kind is IncidentKind.OUTAGE]
        assert [(i.endpoint, i.model, i.time_to_restore) for i in outages] == [
            ("scoring-eu", "fraud", timedelta(minutes=20)),
            ("scoring-eu", "fraud", None),
        ]
        assert report.overall.time_to_restore == Distribution(
            1, timedelta(minutes=20), timedelta(minutes=20)
        )
        assert report.overall.open_incidents == 1
        [p] = report.promotions
        assert (p.version, p.request_id, p.failed_by) == (2, None, "outage")
        assert report.overall.change_failure_rate == Rate(1, 1)
    finally:
        ctx.close()


def test_unreadable_or_naive_events_are_left_out_of_the_summary() -> None:
    """A row that is not an event Gavel wrote (forged, damaged, a time with no offset)
    counts for nothing in the metrics; verification is what reports it."""
    from app.services.delivery import _LedgerFacts

    facts = _LedgerFacts()
    naive = (
        b'{"event":{"action":"alias.observed","actor":"x","after":{"alias":"production",'
        b'"unapproved":true,"version":2},"before":{"alias":"production","version":1},'
        b'"reason":"","subject":"model:prod/m","ts":"2026-01-01T00:00:00"},"format":1,'
        b'"prev":"0","seq":5,"signer":null}'
    )
    for body in (b"not json", b'{"event":{}}', naive):
        facts.add_body(5, body)
    assert facts.moves == [] and facts.drifts == []
    facts.add_body(6, naive.replace(b'00:00:00"', b'00:00:00Z"'))
    assert [(m.version, m.baseline) for m in facts.moves] == [(2, False)]


def test_open_requests_count_as_the_approvals_page_shows_them(
    desks: DeskFactory, seeded_registry: MlflowRegistry
) -> None:
    """The fold records events, never the policy's verdict: a request its policy is
    satisfied with is decided (at its last approval) though not applied yet, and one
    past its policy's limit is closed, not waiting."""
    from dataclasses import replace

    from app.domain.delivery import RequestOutcome
    from app.domain.governance import DEFAULT_POLICIES

    model = f"dl-{uuid.uuid4().hex[:8]}"
    _seed(seeded_registry, model)
    ada, ann, bob = _team(desks, seeded_registry)
    ada.ctx.sync.sync("reg")
    approved = ada.ctx.governance.create_request(
        "reg", model, 2, "production", "Better recall.", CHECKLIST, passphrase=ada.passphrase
    ).request_id
    waiting = ada.ctx.governance.create_request(
        "reg", model, 3, "challenger", "Shadow it.", CHECKLIST, passphrase=ada.passphrase
    ).request_id
    ann.ctx.governance.approve(approved, "Validation report checked.", ann.passphrase)
    ann.ctx.governance.approve(waiting, "Validation report checked.", ann.passphrase)

    def records(now: datetime | None = None) -> dict[str, object]:
        inputs = ada.ctx.delivery.inputs(now=now)
        return {r.request_id: r for r in inputs.requests}

    one = records()
    assert one[approved].outcome is RequestOutcome.PENDING  # type: ignore[attr-defined]
    assert one[approved].decided_at is None  # type: ignore[attr-defined]

    bob.ctx.governance.approve(approved, "Bias review checked.", bob.passphrase)
    two = records()
    last = max(d.at for d in ada.ctx.governance.request(approved).approvals)
    assert two[approved].outcome is RequestOutcome.APPROVED  # type: ignore[attr-defined]
    assert two[approved].decided_at == last  # type: ignore[attr-defined]
    assert two[waiting].outcome is RequestOutcome.PENDING  # type: ignore[attr-defined]
    overall = ada.ctx.delivery.report().overall
    assert (overall.request_to_decision.count, overall.request_to_applied.count) == (1, 0)

    # A policy with a limit: two days on, both have expired unapplied (they wait on
    # nobody); the approved one was still decided, the other never was.
    policy = replace(DEFAULT_POLICIES["high"], request_expiry_days=1)
    ada.ctx.membership.set_policy(policy, ada.passphrase, "Requests expire after a day.")
    later = records(datetime.now(UTC) + timedelta(days=2))
    assert later[waiting].outcome is RequestOutcome.CLOSED  # type: ignore[attr-defined]
    assert later[waiting].decided_at is None  # type: ignore[attr-defined]
    assert later[approved].outcome is RequestOutcome.CLOSED  # type: ignore[attr-defined]
    assert later[approved].decided_at == last  # type: ignore[attr-defined]
    # The same service, asked about today again, does not keep the later verdict.
    assert records()[waiting].outcome is RequestOutcome.PENDING  # type: ignore[attr-defined]
