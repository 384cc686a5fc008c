"""Delivery metrics on hand-built histories with answers worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.domain.delivery import (
    NO_TEAM,
    DeliveryFilter,
    DeliveryInputs,
    Distribution,
    Incident,
    IncidentKind,
    ProductionMove,
    Rate,
    RequestOutcome,
    RequestRecord,
    alias_target,
    delivery_report,
    stage_target,
    utc,
)
from app.domain.errors import UsageError

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
PROD = alias_target("production")
CHAMP = alias_target("champion")
H = timedelta(hours=1)
D = timedelta(days=1)


class Moves:
    """Numbers moves in the order they are written, as the ledger would."""

    def __init__(self) -> None:
        self.seq = 0
        self.items: list[ProductionMove] = []

    def __call__(
        self,
        at: datetime,
        version: int | None,
        model: str = "fraud",
        target: str = PROD,
        request_id: str | None = None,
        baseline: bool = False,
    ) -> None:
        self.seq += 1
        self.items.append(
            ProductionMove(self.seq, at, "prod", model, target, version, request_id, baseline)
        )


def created(model: str, version: int, at: datetime) -> dict[tuple[str, str, int], datetime]:
    return {("prod", model, version): at}


# ------------------------------------------------------------------ distributions, rates


def test_distribution_median_and_nearest_rank_p90() -> None:
    d = Distribution.of(timedelta(hours=h) for h in (5, 1, 3, 2, 4, 10, 6, 7, 8, 9))
    assert d.count == 10
    assert d.median == timedelta(hours=5.5)
    assert d.p90 == timedelta(hours=9)  # ceil(0.9 * 10) = 9th of ten
    one = Distribution.of([timedelta(minutes=30)])
    assert (one.count, one.median, one.p90) == (1, timedelta(minutes=30), timedelta(minutes=30))
    assert Distribution.of([]) == Distribution(0, None, None)
    assert Distribution.of([2 * H, 4 * H]).to_json() == {
        "count": 2,
        "median_hours": 3.0,
        "p90_hours": 4.0,
    }


def test_rate_keeps_numerator_and_denominator() -> None:
    assert Rate(1, 4).value == 0.25
    assert Rate(0, 0).value is None
    assert Rate(1, 3).to_json() == {"numerator": 1, "denominator": 3, "rate": 0.3333}


# ------------------------------------------------------------------------- lead time


def test_lead_time_from_registration_to_first_production() -> None:
    m = Moves()
    m(T0, 1, baseline=True)
    m(T0 + 2 * D, 2, request_id="r2")
    m(T0 + 2 * D + H, 2, target=CHAMP, request_id="r3")  # same version, second target
    m(T0 + 5 * D, 3)
    inputs = DeliveryInputs(
        moves=m.items,
        created=created("fraud", 2, T0 - D) | created("fraud", 3, T0 + 4 * D),
    )
    report = delivery_report(inputs)
    assert [(p.version, p.lead_time) for p in report.promotions] == [(2, 3 * D), (3, D)]
    assert report.overall.promotions == 2
    assert report.overall.lead_time == Distribution(2, 2 * D, 3 * D)
    assert report.unknown_lead_time == 0


def test_baseline_is_not_a_promotion_and_unknown_registration_is_counted() -> None:
    m = Moves()
    m(T0, 4, baseline=True)
    m(T0 + D, 5)
    report = delivery_report(DeliveryInputs(moves=m.items))
    assert [p.version for p in report.promotions] == [5]
    assert report.promotions[0].lead_time is None
    assert report.unknown_lead_time == 1
    assert report.overall.lead_time.count == 0


def test_registration_time_recorded_by_the_request_is_used_when_the_cache_has_none() -> None:
    m = Moves()
    m(T0 + 10 * H, 2, request_id="r1")
    request = RequestRecord(
        "r1",
        "prod",
        "fraud",
        2,
        requested_at=T0 + H,
        outcome=RequestOutcome.APPLIED,
        decided_at=T0 + 5 * H,
        applied_at=T0 + 10 * H,
        version_created_at=T0,
    )
    report = delivery_report(DeliveryInputs(moves=m.items, requests=[request]))
    assert report.promotions[0].lead_time == 10 * H


def test_registration_after_promotion_gives_no_lead_time() -> None:
    """A registry clock ahead of the ledger's would give a negative lead time: unknown."""
    m = Moves()
    m(T0, 2)
    report = delivery_report(DeliveryInputs(moves=m.items, created=created("fraud", 2, T0 + H)))
    assert report.promotions[0].lead_time is None
    assert report.unknown_lead_time == 1


# ----------------------------------------------------------------- approval cycle


def test_approval_cycle_request_decision_applied() -> None:
    requests = [
        RequestRecord(
            "a", "prod", "fraud", 2, T0, RequestOutcome.APPLIED, T0 + 2 * H, T0 + 3 * H
        ),
        RequestRecord(
            "b", "prod", "fraud", 3, T0 + D, RequestOutcome.APPLIED, T0 + D + 6 * H,
            T0 + D + 7 * H,
        ),
        RequestRecord("c", "prod", "churn", 1, T0, RequestOutcome.REJECTED, T0 + 4 * H),
        RequestRecord("d", "prod", "churn", 2, T0, RequestOutcome.PENDING),
        RequestRecord("e", "prod", "churn", 3, T0, RequestOutcome.APPROVED, T0 + 8 * H),
    ]  # fmt: skip
    o = delivery_report(DeliveryInputs(requests=requests)).overall
    assert o.request_to_decision == Distribution(4, timedelta(hours=5), 8 * H)
    assert o.decision_to_applied == Distribution(2, H, H)
    assert o.request_to_applied == Distribution(2, 5 * H, 7 * H)


def test_a_promotion_with_no_request_counts_but_has_no_approval_cycle() -> None:
    m = Moves()
    m(T0, 1, baseline=True)
    m(T0 + D, 2)  # seen by a sync: nobody asked
    m(T0 + 2 * D, 3, request_id="r3")
    report = delivery_report(DeliveryInputs(moves=m.items))
    assert [(p.version, p.request_id) for p in report.promotions] == [(2, None), (3, "r3")]
    assert [(c.promotions, c.with_request, c.without_request) for c in report.months] == [(2, 1, 1)]
    assert report.overall.request_to_decision.count == 0


# ------------------------------------------------------------------------ frequency


def test_promotion_frequency_per_team_and_month() -> None:
    m = Moves()
    m(datetime(2026, 1, 31, 23, 0, tzinfo=UTC), 1, model="fraud")
    m(datetime(2026, 2, 1, 0, 30, tzinfo=UTC), 2, model="fraud")
    m(datetime(2026, 2, 10, tzinfo=UTC), 1, model="churn")
    m(datetime(2026, 2, 11, tzinfo=UTC), 1, model="orphan")
    teams = {("prod", "fraud"): "risk", ("prod", "churn"): "Growth", ("prod", "orphan"): " "}
    report = delivery_report(DeliveryInputs(moves=m.items, teams=teams))
    assert [(c.team, c.month, c.promotions) for c in report.months] == [
        ("risk", "2026-01", 1),
        ("Growth", "2026-02", 1),
        ("risk", "2026-02", 1),
        (NO_TEAM, "2026-02", 1),
    ]
    assert [t.team for t in report.teams] == ["Growth", "risk", NO_TEAM]
    assert [t.promotions for t in report.teams] == [1, 2, 1]


def test_the_month_axis_keeps_months_without_a_promotion() -> None:
    """The chart's months run without gaps (a missing month would hide that nothing
    reached production then), across a year's end, and over the whole period asked."""
    m = Moves()
    m(datetime(2025, 11, 20, tzinfo=UTC), 1)
    m(datetime(2026, 2, 3, tzinfo=UTC), 2)
    inputs = DeliveryInputs(moves=m.items)
    assert delivery_report(inputs).month_axis == ["2025-11", "2025-12", "2026-01", "2026-02"]
    period = DeliveryFilter(
        start=datetime(2025, 10, 15, tzinfo=UTC), end=datetime(2026, 4, 1, tzinfo=UTC)
    )
    assert delivery_report(inputs, period).month_axis == [
        "2025-10",
        "2025-11",
        "2025-12",
        "2026-01",
        "2026-02",
        "2026-03",
    ]
    assert delivery_report(DeliveryInputs()).month_axis == []


def test_months_are_utc_whatever_offset_the_input_has() -> None:
    """23:30 on 31 January in New York is 04:30 on 1 February in UTC."""
    new_york = timezone(timedelta(hours=-5))
    m = Moves()
    m(datetime(2026, 1, 31, 23, 30, tzinfo=new_york), 7)
    report = delivery_report(DeliveryInputs(moves=m.items))
    p = report.promotions[0]
    assert p.at == datetime(2026, 2, 1, 4, 30, tzinfo=UTC)
    assert p.at.tzinfo is UTC
    assert report.months[0].month == "2026-02"


def test_lead_time_across_offsets_is_the_real_elapsed_time() -> None:
    tokyo = timezone(timedelta(hours=9))
    m = Moves()
    m(datetime(2026, 3, 1, 18, 0, tzinfo=tokyo), 2)  # 09:00 UTC
    inputs = DeliveryInputs(
        moves=m.items, created=created("fraud", 2, datetime(2026, 3, 1, 8, 0, tzinfo=UTC))
    )
    assert delivery_report(inputs).promotions[0].lead_time == H


def test_naive_times_are_refused_with_a_sentence() -> None:
    with pytest.raises(UsageError, match="no time zone"):
        ProductionMove(1, datetime(2026, 1, 1), "prod", "m", PROD, 1)
    with pytest.raises(UsageError, match="no time zone"):
        utc(datetime(2026, 1, 1))


# ------------------------------------------------------------------------- rollbacks


def test_rollback_within_30_days() -> None:
    m = Moves()
    m(T0, 1, baseline=True)
    m(T0 + D, 2, request_id="r2")
    m(T0 + 3 * D, 1)  # back to v1 two days later
    report = delivery_report(DeliveryInputs(moves=m.items))
    [rb] = report.rollbacks
    assert (rb.from_version, rb.to_version, rb.after) == (2, 1, 2 * D)
    [p] = report.promotions
    assert p.rolled_back_at == T0 + 3 * D
    assert p.failed_by == "rollback"
    assert report.overall.rollback_rate == Rate(1, 1)
    assert report.overall.change_failure_rate == Rate(1, 1)


def test_move_back_after_30_days_is_not_a_rollback() -> None:
    m = Moves()
    m(T0, 1, baseline=True)
    m(T0 + D, 2)
    m(T0 + D + timedelta(days=30, seconds=1), 1)
    report = delivery_report(DeliveryInputs(moves=m.items))
    assert report.rollbacks == []
    assert report.overall.rollback_rate == Rate(0, 1)
    # Exactly 30 days still counts.
    m = Moves()
    m(T0, 1, baseline=True)
    m(T0 + D, 2)
    m(T0 + 31 * D, 1)
    assert len(delivery_report(DeliveryInputs(moves=m.items)).rollbacks) == 1


def test_move_to_an_older_version_never_in_production_is_a_promotion_not_a_rollback() -> None:
    m = Moves()
    m(T0, 5, baseline=True)
    m(T0 + D, 6)
    m(T0 + 2 * D, 3)  # v3 was never in production
    report = delivery_report(DeliveryInputs(moves=m.items))
    assert report.rollbacks == []
    assert [p.version for p in report.promotions] == [6, 3]
    assert report.overall.rollback_rate == Rate(0, 2)


def test_forward_again_after_a_rollback_is_neither() -> None:
    m = Moves()
    m(T0, 1, baseline=True)
    m(T0 + D, 2)
    m(T0 + 2 * D, 1)  # rollback
    m(T0 + 3 * D, 2)  # the fixed deployment of v2 again: not a new promotion
    report = delivery_report(DeliveryInputs(moves=m.items))
    assert len(report.rollbacks) == 1
    assert [p.version for p in report.promotions] == [2]


def test_rolled_back_again_after_the_version_came_back() -> None:
    """The window runs from the replaced version's latest arrival, not its first."""
    m = Moves()
    m(T0, 1, baseline=True)
    m(T0 + D, 2)
    m(T0 + 2 * D, 1)  # rollback 1
    m(T0 + 40 * D, 2)  # v2 back, fixed
    m(T0 + 45 * D, 1)  # rollback 2: five days after v2 came back
    report = delivery_report(DeliveryInputs(moves=m.items))
    assert [(r.from_version, r.to_version, r.after) for r in report.rollbacks] == [
        (2, 1, D),
        (2, 1, 5 * D),
    ]
    # One promotion, rolled back (at its first rollback).
    assert report.overall.rollback_rate == Rate(1, 1)
    assert report.promotions[0].rolled_back_at == T0 + 2 * D


def test_alias_removed_then_set_is_not_a_rollback_and_stage_counts_as_production() -> None:
    m = Moves()
    m(T0, 1, target=stage_target())
    m(T0 + D, None, target=stage_target())
    m(T0 + 2 * D, 1, target=stage_target())
    report = delivery_report(DeliveryInputs(moves=m.items))
    assert [p.version for p in report.promotions] == [1]
    assert report.promotions[0].target == "stage Production"
    assert report.rollbacks == []


def test_ledger_order_wins_over_timestamps() -> None:
    """A desk clock that stepped back cannot turn a promotion into a rollback."""
    m = Moves()
    m(T0 + 2 * D, 1, baseline=True)
    m(T0 + D, 2)  # recorded later, stamped earlier
    report = delivery_report(DeliveryInputs(moves=m.items))
    assert [p.version for p in report.promotions] == [2]
    assert report.rollbacks == []


# --------------------------------------------------------- restore and change failure


def test_time_to_restore_and_open_incidents() -> None:
    incidents = [
        Incident("prod", "fraud", "ep", IncidentKind.DRIFT, T0, T0 + 2 * H),
        Incident(
            "prod", "fraud", "ep", IncidentKind.OUTAGE, T0 + D, T0 + D + timedelta(minutes=30)
        ),
        Incident("prod", "fraud", "ep2", IncidentKind.DRIFT, T0 + 2 * D),
    ]
    o = delivery_report(DeliveryInputs(incidents=incidents)).overall
    assert o.time_to_restore == Distribution(2, timedelta(minutes=75), 2 * H)
    assert o.open_incidents == 1


def test_change_failure_from_drift_before_the_next_promotion_only() -> None:
    m = Moves()
    m(T0, 1, baseline=True)
    m(T0 + D, 2)
    m(T0 + 5 * D, 3)
    m(T0 + 50 * D, 4)
    incidents = [
        # After v3's promotion: v3 failed, not v2 (v3 came first).
        Incident("prod", "fraud", "ep", IncidentKind.DRIFT, T0 + 6 * D, T0 + 6 * D + H),
        # 40 days after v4: outside the window.
        Incident("prod", "fraud", "ep", IncidentKind.OUTAGE, T0 + 90 * D, T0 + 90 * D + H),
        # Another model's drift says nothing about this one.
        Incident("prod", "churn", "ep", IncidentKind.DRIFT, T0 + 2 * D, T0 + 2 * D + H),
    ]
    report = delivery_report(DeliveryInputs(moves=m.items, incidents=incidents))
    assert [(p.version, p.failed_by) for p in report.promotions] == [
        (2, ""),
        (3, "serving drift"),
        (4, ""),
    ]
    assert report.overall.change_failure_rate == Rate(1, 3)
    assert report.overall.rollback_rate == Rate(0, 3)


# ------------------------------------------------------------------------ filtering


def test_period_and_team_filter() -> None:
    m = Moves()
    m(T0, 1, model="fraud", baseline=True)
    m(T0 + D, 2, model="fraud")
    m(T0 + 10 * D, 1, model="fraud")  # back to v1 nine days later: a rollback
    m(T0 + 20 * D, 1, model="churn")
    teams = {("prod", "fraud"): "Risk", ("prod", "churn"): "growth"}
    inputs = DeliveryInputs(moves=m.items, teams=teams)
    flt = DeliveryFilter(start=T0 + 5 * D, end=T0 + 30 * D)
    report = delivery_report(inputs, flt)
    # v2's promotion is before the period; the rollback falls inside it.
    assert [p.model for p in report.promotions] == ["churn"]
    assert [r.model for r in report.rollbacks] == ["fraud"]
    only_risk = delivery_report(inputs, DeliveryFilter(team="risk"))
    assert {p.team for p in only_risk.promotions} == {"Risk"}
    assert only_risk.overall.rollback_rate == Rate(1, 1)
    assert [t.team for t in only_risk.teams] == ["Risk"]


def test_filter_end_is_exclusive_and_refuses_an_inverted_period() -> None:
    m = Moves()
    m(T0, 2)
    assert delivery_report(DeliveryInputs(moves=m.items), DeliveryFilter(end=T0)).promotions == []
    assert len(delivery_report(DeliveryInputs(moves=m.items), DeliveryFilter(start=T0)).promotions)
    with pytest.raises(UsageError, match="before it starts"):
        DeliveryFilter(start=T0, end=T0 - D)


def test_an_empty_ledger_gives_an_empty_report() -> None:
    report = delivery_report(DeliveryInputs())
    assert report.empty
    assert report.overall.promotions == 0
    assert report.overall.rollback_rate.value is None
    assert report.teams == [] and report.months == []
