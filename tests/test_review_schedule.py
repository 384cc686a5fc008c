"""Periodic reviews: when each version in production is due (pure rules on hand-built
data with known answers), and the schedule, the refusals and the command line on a
real MLflow registry with several desks on one ledger."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.domain.authority_records import Review
from app.domain.errors import GavelError
from app.domain.governance import Policy, Role
from app.domain.ledger import LedgerAction, LedgerEvent
from app.domain.review_schedule import (
    CountedFrom,
    ProductionVersion,
    ReviewDue,
    ReviewState,
    production_arrivals,
    review_schedule,
)
from app.stores.engine import sqlite_url
from tests.fixtures.desks import Desk, DeskFactory, enrol
from tests.fixtures.mlflow import MlflowRegistry
from tests.test_cli import assert_one_line_error, gavel
from tests.test_trust_attacks import _seed

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _pv(model: str, version: int = 1, tier: str = "medium") -> ProductionVersion:
    return ProductionVersion(
        "reg", model, version, "alias production", tier, "olga", "risk", "carl.ml", T0
    )


def _review(model: str, at: datetime, seq: int = 10, version: int = 1) -> Review:
    return Review(seq, at, "ann", "reg", model, version, "fine", (), "h")


def _schedule(now: datetime, *pvs: ProductionVersion, **kw: Any) -> dict[str, ReviewDue]:
    got = review_schedule(
        pvs,
        kw.get("policies", {}),
        kw.get("tiers", {}),
        kw.get("promoted", {}),
        kw.get("seen", {}),
        kw.get("reviews", {}),
        now,
    )
    return {d.version.model: d for d in got}


def test_default_intervals_per_tier_count_from_creation_when_the_ledger_is_silent() -> None:
    now = T0 + timedelta(days=100)
    got = _schedule(now, _pv("h", tier="high"), _pv("m"), _pv("l", tier="low"), _pv("x", tier=""))
    h, m, low, x = (got[k] for k in ("h", "m", "l", "x"))
    assert [d.interval_days for d in (h, m, low, x)] == [90, 180, 365, 90]
    assert h.due_at == T0 + timedelta(days=90)
    assert (h.state, h.days_left) == (ReviewState.OVERDUE, -10)
    assert (m.state, m.days_left) == (ReviewState.CURRENT, 80)
    assert x.tier == "high" and x.counted_from is CountedFrom.CREATED


def test_promotion_first_sight_and_last_review_each_move_the_date() -> None:
    pv = _pv("m")
    seen, promoted = T0 + timedelta(days=5), T0 + timedelta(days=20)
    now = T0 + timedelta(days=190)
    d = _schedule(now, pv, seen={pv.key: seen})["m"]
    assert (d.counted_from, d.due_at, d.state) == (
        CountedFrom.FIRST_SEEN,
        seen + timedelta(days=180),
        ReviewState.OVERDUE,
    )
    d = _schedule(now, pv, seen={pv.key: seen}, promoted={pv.key: promoted})["m"]
    assert (d.counted_from, d.state, d.days_left) == (CountedFrom.PROMOTION, ReviewState.DUE, 10)
    # A review before the promotion does not count for the version promoted since.
    old = _review("m", T0 + timedelta(days=10))
    d = _schedule(now, pv, promoted={pv.key: promoted}, reviews={pv.key: [old]})["m"]
    assert d.counted_from is CountedFrom.PROMOTION and d.last_review == old
    new = _review("m", T0 + timedelta(days=100), seq=11)
    d = _schedule(now, pv, promoted={pv.key: promoted}, reviews={pv.key: [old, new]})["m"]
    assert (d.counted_from, d.due_at, d.state) == (
        CountedFrom.REVIEW,
        T0 + timedelta(days=280),
        ReviewState.CURRENT,
    )


def test_a_policy_interval_and_the_stricter_tier_apply() -> None:
    pv = _pv("m")
    now = T0 + timedelta(days=40)
    policies = {"medium": Policy("medium", 1, review_interval_days=30)}
    d = _schedule(now, pv, policies=policies)["m"]
    assert (d.interval_days, d.state, d.days_left) == (30, ReviewState.OVERDUE, -10)
    d = _schedule(now, pv, tiers={pv.key: "high"})["m"]
    assert (d.tier, d.interval_days) == ("high", 90)
    # Most urgent first.
    got = review_schedule(
        [_pv("later", tier="low"), _pv("sooner", tier="high")], {}, {}, {}, {}, {}, now
    )
    assert [d.version.model for d in got] == ["sooner", "later"]


def _event(seq: int, subject: str, action: LedgerAction, after: object, day: int) -> LedgerEvent:
    return LedgerEvent(
        seq, T0 + timedelta(days=day), "sync", action.value, subject, None, after, "", "", ""
    )


def test_arrivals_in_production_from_alias_stage_and_baseline_observations() -> None:
    events = [
        _event(1, "registry:reg", LedgerAction.REGISTRY_CHANGE_OBSERVED,
               {"stages": {"b": {"3": "Production", "4": "Staging"}}}, 1),
        _event(2, "model:reg/a", LedgerAction.ALIAS_OBSERVED,
               {"alias": "production", "version": 1}, 2),
        _event(3, "model:reg/a", LedgerAction.ALIAS_OBSERVED,
               {"alias": "champion", "version": 2}, 3),
        _event(4, "model:reg/a", LedgerAction.ALIAS_OBSERVED,
               {"alias": "production", "version": 2}, 4),
        _event(5, "model:reg/b", LedgerAction.REGISTRY_CHANGE_OBSERVED,
               {"stage": "Production", "version": 5, "unapproved": True}, 5),
    ]  # fmt: skip
    assert production_arrivals(events) == {
        ("reg", "b", 3): T0 + timedelta(days=1),
        ("reg", "a", 1): T0 + timedelta(days=2),
        ("reg", "a", 2): T0 + timedelta(days=4),
        ("reg", "b", 5): T0 + timedelta(days=5),
    }


# ------------------------------------------------------------ on the real registry


@pytest.fixture
def shared_ledger_url(tmp_path: Path) -> Iterator[str]:
    # The review rules run on PostgreSQL in test_reviews_findings; here one SQLite ledger.
    yield sqlite_url(tmp_path / "team-ledger.sqlite3")


@dataclass
class Team:
    ada: Desk  # founder, admin
    ann: Desk  # approver
    bob: Desk  # requester and approver
    carl: Desk  # approver whose registry name ran the training runs
    model: str


@pytest.fixture
def team(desks: DeskFactory, seeded_registry: MlflowRegistry) -> Iterator[Team]:
    model = f"due-{uuid.uuid4().hex[:8]}"
    _seed(seeded_registry, model, tier="medium")
    ada, ann, bob, carl = (desks(u) for u in ("ada", "ann", "bob", "carl"))
    enrol(ada, ada)
    enrol(ada, ann, Role.APPROVER)
    enrol(ada, bob, Role.REQUESTER, Role.APPROVER)
    enrol(ada, carl, Role.APPROVER, names=("carl.ml",))
    for desk in (ada, ann, bob, carl):
        desk.ctx.registries.add(seeded_registry.config("reg"))
        desk.ctx.sync.sync("reg")
    yield Team(ada, ann, bob, carl, model)


def _mine(team: Team, desk: Desk, now: datetime | None = None) -> dict[int, ReviewDue]:
    return {
        d.version.version: d
        for d in desk.ctx.reviews.schedule(now)
        if d.version.model == team.model
    }


@pytest.mark.integration
def test_schedule_refusals_and_reviews_on_the_real_registry(team: Team) -> None:
    start = datetime.now(UTC)
    (v1,) = _mine(team, team.ann).values()
    # The first sync saw v1 under 'production' (the baseline): medium tier, 180 days.
    assert (v1.version.served_by, v1.tier, v1.interval_days) == ("alias production", "medium", 180)
    assert v1.counted_from is CountedFrom.FIRST_SEEN and v1.state is ReviewState.CURRENT
    assert v1.due_at is not None
    assert abs((v1.due_at - (start + timedelta(days=180))).total_seconds()) < 120
    later = start + timedelta(days=181)
    assert [
        d.version.version for d in team.ann.ctx.reviews.due(later) if d.version.model == team.model
    ] == [1]
    assert _mine(team, team.ann, later)[1].state is ReviewState.OVERDUE
    # carl's registry name ran the training run: refused like an approval, nothing written.
    head = team.ann.ctx.audit.store.head()
    with pytest.raises(GavelError, match="ran the training run"):
        team.carl.ctx.reviews.record("reg", team.model, 1, "fine", team.carl.passphrase)
    assert team.ann.ctx.audit.store.head() == head

    # bob promotes v2 through Gavel; he may not review what he requested.
    rid = team.bob.ctx.governance.create_request(
        "reg", team.model, 2, "production", "Better recall.",
        {"validation_report": "VR-1", "rollback_plan": "back to v1"},
        passphrase=team.bob.passphrase,
    ).request_id  # fmt: skip
    team.ann.ctx.governance.approve(rid, "ok", team.ann.passphrase)
    assert team.bob.ctx.promotions.apply(rid, team.bob.passphrase).applied
    team.ann.ctx.sync.sync("reg")  # ann's cache sees the move at her next sync
    (v2,) = _mine(team, team.ann).values()
    assert v2.version.version == 2 and v2.counted_from is CountedFrom.PROMOTION
    with pytest.raises(GavelError, match="requested the promotion"):
        team.bob.ctx.reviews.record("reg", team.model, 2, "fine", team.bob.passphrase)

    # On the command line: ann records the review, signed; the date counts from it.
    proc = gavel(
        team.ann.home, "review", "record", team.model, "2", "--comment", "Drift checked.",
        "--evidence", "DR-7", "--passphrase-env", "PP", env=team.ann.env(),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "still fit for purpose" in proc.stdout
    proc = gavel(team.ann.home, "review", "due", "--all", "--json", env=team.ann.env())
    assert proc.returncode == 0, proc.stderr
    (row,) = [r for r in json.loads(proc.stdout) if r["model"] == team.model]
    assert (row["version"], row["counted_from"], row["state"]) == (2, "last review", "current")
    assert row["last_review"]["reviewer"] == "ann" and row["interval_days"] == 180
    # Not due within 30 days: the plain listing leaves it out.
    proc = gavel(team.ann.home, "review", "due", "--json", env=team.ann.env())
    assert team.model not in {r["model"] for r in json.loads(proc.stdout)}
    # bob's refusal on the command line: one sentence, exit 1.
    proc = gavel(
        team.bob.home, "review", "record", team.model, "2", "--comment", "fine",
        "--passphrase-env", "PP", env=team.bob.env(),
    )  # fmt: skip
    assert "requested the promotion" in assert_one_line_error(proc, 1)
    # An empty comment is bad usage.
    proc = gavel(
        team.ann.home, "review", "record", team.model, "2", "--comment", " ",
        "--passphrase-env", "PP", env=team.ann.env(),
    )  # fmt: skip
    assert "needs a comment" in assert_one_line_error(proc, 2)
