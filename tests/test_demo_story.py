"""The demo tells a story: a first run opens a demo profile of its own whose ledger holds
seven months of a team's governance, written by real services against a real (demo)
MLflow, so the Overview and Delivery pages show every part with data. The person's own
profile is left untouched, every event is one the authority fold accepts, and the
made-up people's keys are gone once the story is written."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent
from pytestqt.qtbot import QtBot

from app.bootstrap import AppContext, build_context, demo_profile, is_unused
from app.domain.delivery import IncidentKind, Rate
from app.domain.governance import RequestState
from app.domain.ledger_query import LedgerQuery
from app.services.demo_story import STORY_DAYS
from app.stores.paths import AppPaths, resolve_paths
from app.ui.console import Console, build_console
from app.ui.delivery.delivery_ui import DELIVERY_PAGE
from tests.test_ui_looks import dark_palette, snap
from tests.ui_helpers import SCREENSHOTS

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> AppPaths:
    """A person's own, never used profile."""
    return resolve_paths({"GAVEL_HOME": str(tmp_path_factory.mktemp("own"))})


@pytest.fixture(scope="module")
def demo(own: AppPaths) -> Iterator[AppContext]:
    """The demo profile, its registry started and its story written (once), synced."""
    ctx = build_context(demo_profile(own), demo=True)
    try:
        ctx.demo.start()
        ctx.sync.sync("demo")
        yield ctx
    finally:
        ctx.demo.stop()
        ctx.close()


def test_a_first_run_opens_the_demo_in_a_profile_of_its_own(own: AppPaths) -> None:
    assert is_unused(own)
    demo = demo_profile(own)
    assert demo.data_dir.is_relative_to(own.data_dir)
    assert demo.profile_file != own.profile_file


def test_the_story_shows_on_every_part_of_the_overview(demo: AppContext, own: AppPaths) -> None:
    o = demo.overview.overview()
    value = {f.key: f.value for f in o.figures}
    assert value["models.all"] == 10 and value["production.alias"] >= 6
    assert value["requests.pending"] == 1  # affordability-check v2, waiting on an approver
    assert value["reviews.overdue"] >= 1  # mortgage-pd: promoted, never reviewed
    assert value["reviews.due"] >= 1  # aml-transaction-monitor: due within 30 days
    assert value["violations.open"] == 1  # Customer LTV moved in MLflow, no request
    # Trained by people nobody enrolled (MLflow without authentication names no version
    # creator: the run's user counts).
    unmapped = {m for _r, m in o.figure("hygiene.creator").drill.models}
    assert unmapped == {"call-volume-forecast", "Customer LTV (Marketing's)", "invoice-ocr-router"}
    [waiting] = demo.governance.views()[:1]
    assert waiting.request.identity.model == "affordability-check"
    assert waiting.request.state is RequestState.PENDING
    # The person's own profile holds nothing of it.
    assert is_unused(own)
    assert not own.ledger_db.exists()


def test_the_story_gives_the_delivery_page_every_measure(demo: AppContext) -> None:
    report = demo.delivery.report()
    o = report.overall
    assert o.promotions == 6
    assert o.lead_time.count == 6 and o.lead_time.median is not None
    assert timedelta(days=7) < o.lead_time.median < timedelta(days=120)
    # Six applied requests and one rejection were decided; the one still waiting was not.
    assert (o.request_to_decision.count, o.request_to_applied.count) == (7, 6)
    [rollback] = report.rollbacks
    assert (rollback.model, rollback.from_version, rollback.to_version) == (
        "credit-default-scorer",
        5,
        4,
    )
    assert o.rollback_rate == Rate(1, 6)
    [drift] = report.incidents
    assert drift.kind is IncidentKind.DRIFT and drift.time_to_restore is not None
    assert timedelta(hours=20) < drift.time_to_restore < timedelta(days=2)
    assert o.change_failure_rate.numerator >= 1
    # Months of history, per team and month.
    months = {p.at.strftime("%Y-%m") for p in report.promotions}
    assert len(months) >= 4


def test_every_story_event_counts_and_is_dated_in_the_past(demo: AppContext, own: AppPaths) -> None:
    report = demo.authority.verify()
    assert report.ok, report.describe()
    assert demo.governance.problems() == []
    events = demo.audit.page(LedgerQuery(), limit=None)
    first_signed = next(e for e in events if e.signer)
    started = datetime.now(UTC) - timedelta(days=STORY_DAYS + 1)
    assert started < first_signed.at < started + timedelta(days=2)
    ats = [e.at for e in events[1:]]
    assert ats == sorted(ats)
    # The made-up people's profiles (and their session-only keys) are gone.
    assert not (demo.paths.data_dir / "demo-people").exists()
    # Starting the demo again writes nothing more.
    head = demo.audit.store.head()
    demo.demo.stop()
    demo.demo.start()
    assert demo.audit.store.head() == head


def _open(ctx: AppContext, qtbot: QtBot) -> Console:
    console = build_console(ctx)
    console.window.resize(1400, 900)
    console.window.show()
    qtbot.waitExposed(console.window)
    qtbot.waitUntil(
        lambda: console.overview.overview is not None and console.overview.settled,
        timeout=30_000,
    )
    return console


@pytest.mark.gui
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_demo_overview_and_delivery_screenshots(
    demo: AppContext, qtbot: QtBot, tmp_path: Path, scheme: str
) -> None:
    from PySide6.QtWidgets import QApplication

    original = QApplication.palette()
    if scheme == "dark":
        QApplication.setPalette(dark_palette())
    console = _open(demo, qtbot)
    try:
        assert console.overview.overview is not None
        assert console.overview.overview.figure("requests.pending").value == 1
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = snap(console.window, tmp_path, f"demo-overview-{scheme}")
        path.replace(SCREENSHOTS / path.name)
        console.window.select_page(DELIVERY_PAGE)
        page = console.delivery.page
        qtbot.waitUntil(lambda: page.report is not None, timeout=30_000)
        assert page.report is not None and page.report.overall.promotions == 6
        path = snap(console.window, tmp_path, f"demo-delivery-{scheme}")
        path.replace(SCREENSHOTS / path.name)
    finally:
        console.window.close()
        console.window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        QApplication.setPalette(original)


def test_the_console_opens_the_demo_profile_only_on_an_unused_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.ui.main
    from app.cli import main
    from app.domain.registry import RegistryConfig
    from app.stores.config_file import ConfigFile

    opened: list[AppPaths | None] = []

    def run_console(**kwargs: object) -> int:
        paths_factory = kwargs.get("paths_factory")
        opened.append(paths_factory() if callable(paths_factory) else None)  # type: ignore[arg-type]
        return 0

    monkeypatch.setattr(app.ui.main, "run_console", run_console)
    monkeypatch.setenv("GAVEL_HOME", str(tmp_path))
    own = resolve_paths({"GAVEL_HOME": str(tmp_path)})
    assert main(["gui", "--no-demo"]) == 0 and opened.pop() is None
    assert main(["gui"]) == 0
    shown = opened.pop()
    assert shown is not None and shown.data_dir == own.data_dir / "demo-profile" / "data"
    # Once the person has a registry of their own, their profile opens.
    own.ensure()
    ConfigFile(own.config_file).add_registry(RegistryConfig("mine", "http://127.0.0.1:1"))
    assert not is_unused(own)
    assert main(["gui"]) == 0 and opened.pop() is None


@pytest.mark.gui
def test_a_first_run_shows_the_story_on_the_overview_once_it_is_written(
    tmp_path: Path, qtbot: QtBot
) -> None:
    """The real first run: the console opens on the unwritten demo profile, starts the
    demo (progress in the status bar), and the Overview fills in without a restart."""
    own = resolve_paths({"GAVEL_HOME": str(tmp_path)})
    ctx = build_context(demo_profile(own), demo=True)
    console = build_console(ctx)
    try:
        console.window.resize(1400, 900)
        console.window.show()
        qtbot.waitExposed(console.window)
        console.start(True)

        def told() -> bool:
            o = console.overview.overview
            return (
                o is not None
                and console.overview.settled
                and o.figure("requests.pending").value == 1
                and o.figure("violations.open").value == 1
            )

        qtbot.waitUntil(told, timeout=180_000)
        assert "made-up history" in console.portfolio.demo_banner.label.text()
    finally:
        console.window.close()
        console.window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        ctx.demo.stop()
        ctx.close()
