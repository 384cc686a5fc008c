"""The Delivery page in the console: computed on a worker from a ledger that months of
syncs wrote (through the real ChangeObserver, with the desk's clock set back), filtered
by team and period, exported to CSV, and looked at in a light and a dark palette."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.bootstrap import AppContext
from app.domain.entities import ModelVersion, RegisteredModel, Run
from app.domain.ledger import LedgerAction
from app.domain.ledger_query import model_subject
from app.services.audit import AuditService
from app.services.observations import ChangeObserver
from app.stores.engine import sqlite_url
from app.stores.ledger_store import LedgerStore
from app.stores.migrate import open_ledger_database
from app.stores.snapshot_writer import SnapshotWriter
from app.ui.console import Console, build_console
from app.ui.delivery.delivery_page import PERIODS, DeliveryPage
from app.ui.delivery.delivery_ui import DELIVERY_PAGE
from tests.test_ui_looks import dark_palette
from tests.ui_helpers import make_context, save_screenshot

T0 = datetime(2025, 2, 3, 9, 0, tzinfo=UTC)
TODAY = datetime(2025, 8, 1, 12, 0, tzinfo=UTC)
TEAMS = ("credit-risk", "fraud", "marketing", "operations")
MODELS = [f"{team}-{n}" for team in TEAMS for n in (1, 2)]
VERSIONS = 12


def _created(model_index: int, version: int) -> datetime:
    """Each model's versions are registered a fortnight apart, a few days before use."""
    return T0 + timedelta(days=14 * (version - 1) - 2 - model_index % 3, hours=model_index)


def _seed_cache(ctx: AppContext) -> None:
    models, versions, runs = [], [], {}
    for i, name in enumerate(MODELS):
        models.append(
            RegisteredModel(name, tags={"team": TEAMS[i // 2]}, aliases={"production": 1})
        )
        for v in range(1, VERSIONS + 1):
            run_id = f"{name}-run-{v}"
            ms = int(_created(i, v).timestamp() * 1000)
            versions.append(ModelVersion(name, v, ms, ms, user_id="trainer", run_id=run_id))
            runs[run_id] = Run(run_id=run_id, experiment_id="1", status="FINISHED")
    SnapshotWriter(ctx.db).write("prod", "http://prod.invalid", models, versions, runs, T0)


def _write_history(ctx: AppContext) -> dict[str, int]:
    """Six months of syncs seen by the real ChangeObserver on a desk whose clock is set
    to each sync's time; returns what the report must count."""
    now = [T0]
    audit = AuditService(
        LedgerStore(open_ledger_database(sqlite_url(ctx.paths.ledger_db)), clock=lambda: now[0])
    )
    observer = ChangeObserver(audit, ctx.identity)
    held = dict.fromkeys(MODELS, 1)
    seen = {m: {1} for m in MODELS}
    observer.observe("prod", {m: {"production": 1} for m in MODELS})  # the baseline
    promotions = rollbacks = drifts = 0
    for week in range(1, 26):
        now[0] = T0 + timedelta(weeks=week, hours=3)
        for i, name in enumerate(MODELS):
            if (week + i) % 3:
                continue
            if i in (1, 6) and week % 6 == 0 and held[name] > 2:
                held[name] -= 1  # back to the version before: a rollback
                rollbacks += 1
            elif held[name] < VERSIONS and _created(i, held[name] + 1) < now[0]:
                held[name] += 1
                # Forward again to a version already in production is no new promotion.
                promotions += held[name] not in seen[name]
                seen[name].add(held[name])
        observer.observe("prod", {m: {"production": v} for m, v in held.items()})
        if week % 4 == 0:
            subject = model_subject("prod", MODELS[week % len(MODELS)])
            for action, hours in (
                (LedgerAction.SERVING_DRIFT_OBSERVED, 1),
                (LedgerAction.SERVING_DRIFT_RESOLVED, 1 + week % 5),
            ):
                now[0] = T0 + timedelta(weeks=week, hours=3 + hours)
                audit.record(
                    "gavel-poller",
                    action,
                    subject,
                    before={"alias": "production", "version": 2},
                    after={"endpoint": "scoring-eu", "url": "http://x", "served_versions": [1]},
                    reason="drift",
                )
            drifts += 1
    return {"promotions": promotions, "rollbacks": rollbacks, "drifts": drifts}


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[AppContext]:
    ctx = make_context(tmp_path / "home")
    try:
        yield ctx
    finally:
        ctx.close()


def _open(ctx: AppContext, qtbot: QtBot) -> tuple[Console, DeliveryPage]:
    console = build_console(ctx, clock=lambda: TODAY)
    console.window.resize(1500, 980)
    console.window.show()
    qtbot.waitExposed(console.window)
    page = console.delivery.page
    with qtbot.waitSignal(page.settled, timeout=30_000):
        assert console.window.select_page(DELIVERY_PAGE)
    return console, page


def _close(console: Console) -> None:
    console.window.close()
    console.window.deleteLater()
    QCoreApplication.processEvents()


def test_delivery_page_measures_months_of_history(
    ctx: AppContext, qtbot: QtBot, tmp_path: Path
) -> None:
    _seed_cache(ctx)
    expected = _write_history(ctx)
    console, page = _open(ctx, qtbot)
    try:
        # Default period: the last 12 months to the console's today, whole UTC days.
        assert page.period.currentText() == "Last 12 months"
        report = page.report
        assert report is not None
        assert report.overall.promotions == expected["promotions"]
        assert len(report.rollbacks) == expected["rollbacks"] > 0
        assert len(report.incidents) == expected["drifts"] > 0
        assert report.unknown_lead_time == 0 and report.overall.lead_time.count > 0
        assert page.headlines["promotions"].value.text() == str(expected["promotions"])
        rollback = report.overall.rollback_rate
        # One promotion was rolled back three times (it came back in between).
        assert (rollback.numerator, len(report.rollbacks)) == (1, 3)
        assert page.headlines["rollback"].detail.text() == (
            f"1 of {rollback.denominator} promotions, 3 rollbacks"
        )
        assert page.charts.has_chart
        assert {t.team for t in report.teams} == set(TEAMS)
        # The chart has a bar for every month of the period, empty ones included.
        assert len(report.month_axis) == 13 > len({m.month for m in report.months})
        frequency_axes = page.charts.figure.axes[0]
        assert len(frequency_axes.patches) == len(report.month_axis) * len(TEAMS)
        frequency = page.models["frequency"]
        assert frequency.rowCount() == len(report.months) > 6
        save_screenshot(console.window, "delivery_page_light")

        # One team: the figures follow, computed again on the worker.
        with qtbot.waitSignal(page.settled, timeout=30_000):
            page.team.setCurrentText("fraud")
        assert page.report is not None and page.report.filter.team == "fraud"
        assert {p.team for p in page.report.promotions} == {"fraud"}
        assert page.report.overall.promotions < expected["promotions"]

        # A custom period of one month.
        with qtbot.waitSignal(page.settled, timeout=30_000):
            page.period.setCurrentIndex([p for p, _d in PERIODS].index("Custom…"))
        with qtbot.waitSignal(page.settled, timeout=30_000):
            page.start.setDate(page.start.date().fromString("2025-03-01", "yyyy-MM-dd"))
        with qtbot.waitSignal(page.settled, timeout=30_000):
            page.end.setDate(page.end.date().fromString("2025-03-31", "yyyy-MM-dd"))
        assert page.report is not None
        assert all(p.month == "2025-03" for p in page.report.promotions)
        assert page.report.promotions

        # Export the table on screen.
        page.tabs.setCurrentIndex(list(page.models).index("promotions"))
        out = tmp_path / "promotions.csv"
        with qtbot.waitSignal(page.settled, timeout=10_000):
            page.export_table("promotions", out)
        lines = out.read_text(encoding="utf-8").splitlines()
        assert len(lines) == 1 + len(page.report.promotions)
        assert "rows written to" in page.outcome.text()
        # A folder that does not exist: a sentence, nothing half-written.
        with qtbot.waitSignal(page.settled, timeout=10_000):
            page.export_table("promotions", tmp_path / "nowhere" / "x.csv")
        assert "could not be written" in page.outcome.text()
    finally:
        _close(console)


def test_delivery_page_in_a_dark_palette(ctx: AppContext, qtbot: QtBot, qapp: QApplication) -> None:
    _seed_cache(ctx)
    _write_history(ctx)
    original = QApplication.palette()
    QApplication.setPalette(dark_palette())
    try:
        console, page = _open(ctx, qtbot)
        try:
            assert page.charts.theme.dark
            assert page.charts.theme.background == "#1e1e1e"
            save_screenshot(console.window, "delivery_page_dark")
        finally:
            _close(console)
    finally:
        QApplication.setPalette(original)
        QGuiApplication.processEvents()


def test_delivery_page_empty_ledger(ctx: AppContext, qtbot: QtBot) -> None:
    console, page = _open(ctx, qtbot)
    try:
        assert page.report is not None and page.report.empty
        assert not page.charts.has_chart
        assert page.charts.title == "No promotions on the ledger in this period"
        assert page.headlines["rollback"].detail.text() == "no promotions yet"
        save_screenshot(console.window, "delivery_page_empty")
    finally:
        _close(console)
