"""The managers' overview: every figure counted right on hand-built data with known
answers, each with the list behind it; and `gavel report overview` on a real MLflow
registry with a ledger."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.domain.errors import GavelError
from app.domain.overview import (
    NO_TEAM,
    DrillPage,
    EndpointState,
    OverviewInputs,
    WaitingRequest,
    build_overview,
)
from app.domain.portfolio import PortfolioRow
from app.domain.review_schedule import ProductionVersion, review_schedule
from app.services.report_export import overview_csv, portfolio_csv, write_text
from app.stores.engine import sqlite_url
from tests.fixtures.desks import DeskFactory, enrol
from tests.fixtures.mlflow import MlflowRegistry
from tests.test_cli import gavel
from tests.test_trust_attacks import _seed

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _row(
    key: int, name: str, tier: str, team: str, owner: str = "olga", **aliases: int
) -> PortfolioRow:
    return PortfolioRow(key, "reg", name, 3, aliases, owner, tier, team, 3, None)


def _pv(name: str, tier: str, created_days_ago: int, creator: str = "carl.ml") -> ProductionVersion:
    return ProductionVersion(
        "reg", name, 1, "alias production", tier, "olga", "", creator,
        NOW - timedelta(days=created_days_ago),
    )  # fmt: skip


def hand_built() -> OverviewInputs:
    rows = [
        _row(1, "churn", "high", "risk", production=1),
        _row(2, "fraud", "high", "risk", production=2, champion=2),
        _row(3, "ltv", "medium", "growth", challenger=1),
        _row(4, "pricing", "low", "", owner=""),
        _row(5, "legacy", "", "growth"),
    ]
    production = [
        _pv("churn", "high", 100),  # 90 days: overdue by 10
        _pv("fraud", "high", 70),  # due in 20 days
        _pv("pricing", "low", 10),  # stage Production, not due for a year
    ]
    schedule = review_schedule(production, {}, {}, {}, {}, {}, NOW)
    waiting = [
        WaitingRequest("r1", "reg", "ltv", 1, "production", NOW - timedelta(days=9), False,
                       "1 more approval from an approver"),
        WaitingRequest("r2", "reg", "churn", 2, "production", NOW - timedelta(days=2), False,
                       "2 more approvals from distinct approvers"),
        WaitingRequest("r3", "reg", "fraud", 3, "production", NOW - timedelta(days=1), True,
                       "ada to apply it"),
    ]  # fmt: skip
    return OverviewInputs(
        rows=rows,
        schedule=schedule,
        waiting=waiting,
        violations={("reg", "fraud"): 2},
        endpoints=[
            EndpointState("churn-ep", "reg", "churn", down=True, drift=False, detail="refused"),
            EndpointState("fraud-ep", "reg", "fraud", down=False, drift=True),
            EndpointState("ltv-ep", "reg", "ltv", down=False, drift=False),
        ],
        unmapped_creators=[("reg", "fraud", 2)],
        stage_production=frozenset({("reg", "pricing")}),
    )


def test_every_figure_has_its_known_answer_and_its_list() -> None:
    o = build_overview(hand_built(), NOW)
    values = {f.key: f.value for f in o.figures}
    assert values == {
        "models.all": 5,
        "tier.high": 2,
        "tier.medium": 1,
        "tier.low": 1,
        "tier.none": 1,
        "production.any": 3,
        "production.alias": 2,
        "production.stage": 1,
        "requests.pending": 2,
        "requests.approved": 1,
        "reviews.overdue": 1,
        "reviews.due": 1,
        "violations.open": 2,
        "serving.drift": 1,
        "endpoints.down": 1,
        "hygiene.owner": 1,
        "hygiene.team": 1,
        "hygiene.creator": 1,
    }
    # Each figure names the list behind it.
    assert o.figure("tier.high").drill.models == (("reg", "churn"), ("reg", "fraud"))
    assert o.figure("tier.none").drill.models == (("reg", "legacy"),)
    assert o.figure("production.any").drill.models == (
        ("reg", "churn"),
        ("reg", "fraud"),
        ("reg", "pricing"),
    )
    assert o.figure("reviews.overdue").drill.models == (("reg", "churn"),)
    assert o.figure("reviews.due").drill.models == (("reg", "fraud"),)
    assert "overdue by 10 day(s)" in o.figure("reviews.overdue").detail
    pending = o.figure("requests.pending")
    assert pending.drill.page is DrillPage.APPROVALS and pending.drill.requests == ("r1", "r2")
    assert pending.detail == "oldest 9 days old: ltv v1, waits on 1 more approval from an approver"
    assert o.figure("requests.approved").drill.requests == ("r3",)
    assert o.figure("violations.open").drill.page is DrillPage.VIOLATIONS
    assert o.figure("violations.open").drill.models == (("reg", "fraud"),)
    assert o.figure("endpoints.down").drill.endpoints == ("churn-ep",)
    assert o.figure("serving.drift").drill.endpoints == ("fraud-ep",)
    assert o.figure("hygiene.owner").drill.models == (("reg", "pricing"),)
    assert o.figure("hygiene.creator").drill.models == (("reg", "fraud"),)
    # Alarms only where someone must act.
    assert o.figure("reviews.overdue").alarm and not o.figure("tier.high").alarm
    teams = {(t.registry, t.team): (t.models, t.by_alias, t.by_stage) for t in o.teams}
    assert teams == {
        ("reg", "risk"): (2, 2, 0),
        ("reg", "growth"): (2, 0, 0),
        ("reg", NO_TEAM): (1, 0, 1),
    }


def test_csv_exports_carry_every_figure_and_model(tmp_path: Path) -> None:
    data = hand_built()
    o = build_overview(data, NOW)
    figures = list(csv.DictReader(io.StringIO(overview_csv(o))))
    assert len(figures) == len(o.figures) + len(o.teams)
    overdue = next(r for r in figures if r["figure"] == "Overdue")
    assert (overdue["section"], overdue["value"], overdue["models"]) == (
        "Periodic reviews",
        "1",
        "reg/churn",
    )
    pending = next(r for r in figures if r["figure"] == "Waiting for approval")
    assert pending["models"] == "r1; r2"
    models = list(csv.DictReader(io.StringIO(portfolio_csv(data.rows, data.schedule))))
    assert [r["model"] for r in models] == ["churn", "fraud", "ltv", "pricing", "legacy"]
    churn = models[0]
    assert (churn["in_production"], churn["review_state"], churn["review_due"]) == (
        "v1",
        "overdue",
        "2026-05-22",
    )
    assert models[3]["in_production"] == "v1"  # pricing: by stage only
    path = write_text(tmp_path / "o.csv", overview_csv(o))
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # spreadsheets read it as UTF-8
    with pytest.raises(GavelError, match="Could not write"):
        write_text(tmp_path / "missing" / "o.csv", "x")


def test_an_empty_cache_gives_zeros_not_errors() -> None:
    o = build_overview(OverviewInputs([], [], [], {}, []), NOW)
    assert o.models == 0 and all(f.value == 0 and not f.alarm for f in o.figures)
    assert o.teams == ()


# ------------------------------------------------------------ on the real registry


@pytest.fixture
def shared_ledger_url(tmp_path: Path) -> Iterator[str]:
    yield sqlite_url(tmp_path / "team-ledger.sqlite3")


@pytest.mark.integration
def test_report_overview_on_the_real_registry(
    desks: DeskFactory, seeded_registry: MlflowRegistry, tmp_path: Path
) -> None:
    model = f"ov-{uuid.uuid4().hex[:8]}"
    _seed(seeded_registry, model, tier="low")  # owner carl, no team, production -> v1
    ada = desks("ada")
    enrol(ada, ada)
    ada.ctx.registries.add(seeded_registry.config("reg"))
    ada.ctx.sync.sync("reg")
    proc = gavel(ada.home, "report", "overview", "--json", env=ada.env())
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    figures = {f["key"]: f for f in data["figures"]}
    mine = {"registry": "reg", "model": model}

    def listed(key: str) -> bool:
        return mine in figures[key]["list"]["models"]

    assert listed("tier.low") and not listed("tier.high")
    assert listed("production.alias") and listed("hygiene.team") and not listed("hygiene.owner")
    assert not listed("reviews.overdue")  # first seen just now: a low tier's year ahead
    # The service and the command line agree with the cache.
    rows = ada.ctx.portfolio.all_rows()
    assert figures["models.all"]["value"] == len(rows)
    assert figures["tier.low"]["value"] == sum(1 for r in rows if r.risk_tier == "low")
    no_team = next(t for t in data["teams"] if t["team"] == NO_TEAM)
    assert no_team["models"] == sum(1 for r in rows if not r.team)
    out, models_out = tmp_path / "overview.csv", tmp_path / "portfolio.csv"
    text = gavel(
        ada.home, "report", "overview", "--csv", str(out), "--portfolio-csv", str(models_out),
        env=ada.env(),
    )  # fmt: skip
    assert text.returncode == 0 and "Periodic reviews" in text.stdout
    rows = list(csv.DictReader(io.StringIO(models_out.read_text(encoding="utf-8-sig"))))
    (row,) = [r for r in rows if r["model"] == model]
    assert (row["risk_tier"], row["in_production"], row["review_state"]) == ("low", "v1", "current")
    assert "Models by risk tier" in out.read_text(encoding="utf-8-sig")


def test_the_portfolio_filters_by_team_and_by_an_overview_list(tmp_path: Path) -> None:
    from tests.ui_helpers import make_context, seed_cache

    ctx = make_context(tmp_path / "home")
    try:
        seed_cache(ctx, "fleet", 12)
        p = ctx.portfolio
        assert p.teams() == ["credit-risk", "fraud", "marketing", "operations"]
        fraud = p.rows(p.model_keys(team="fraud"))
        assert sorted(r.name for r in fraud.values()) == ["model-0001", "model-0005", "model-0009"]
        assert p.model_keys(team="") == []  # every sample model has a team
        only = [("fleet", "model-0003"), ("fleet", "model-0007"), ("other", "model-0001")]
        shown = p.rows(p.model_keys(only=only))
        assert sorted(r.name for r in shown.values()) == ["model-0003", "model-0007"]
        assert p.model_keys(only=[]) == []
        assert len(p.model_keys(team="fraud", only=only)) == 0
    finally:
        ctx.close()
