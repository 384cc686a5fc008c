"""The trail in words: every audit summary is a sentence (no raw JSON), the Event
column's arrow points the way the rows run (newest first: descending, ▼), and the model
header names its two clocks: "changed in the registry …" and "synced …"."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from app.bootstrap import AppContext
from app.domain.ledger import LedgerAction
from app.domain.ledger_query import alias_payload, model_subject
from app.ui.audit.audit_model import AuditColumn
from app.ui.audit.audit_page import AuditTrailPage
from app.ui.common.resources import stylesheet
from app.ui.common.tasks import TaskRunner
from app.ui.console import build_console
from app.ui.portfolio.portfolio_model import Column
from tests.ui_helpers import ROOT, make_context, no_leaks, seed_cache

pytestmark = [
    pytest.mark.gui,
    pytest.mark.usefixtures("no_leaks"),
]
__all__ = ["no_leaks"]

REVIEW = ROOT / "screenshots-review"

BASELINE = "First comparison of stages in reg: 0 version(s) in a stage recorded as the baseline."


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[AppContext]:
    context = make_context(tmp_path / "home")
    try:
        yield context
    finally:
        context.close()


def _arrow_points_down(image: QImage, left: int, right: int) -> bool:
    """Widths of the dark rows of the arrow (between x=left and right): ▼ is widest on top."""
    widths = []
    for y in range(image.height()):
        dark = [x for x in range(left, right) if image.pixelColor(x, y).lightness() < 140]
        if dark:
            widths.append(len(dark))
    assert len(widths) >= 2, "no arrow drawn"
    return widths[0] > widths[-1]


def test_audit_summaries_are_sentences_and_the_arrow_says_newest_first(
    ctx: AppContext, qtbot: QtBot
) -> None:
    ctx.audit.record(
        "gavel-sync",
        LedgerAction.REGISTRY_CHANGE_OBSERVED,
        "registry:reg",
        after={"stages": {}},
        reason=BASELINE,
    )
    subject = model_subject("reg", "fraud")
    ctx.audit.record(
        "gavel-sync",
        LedgerAction.ALIAS_OBSERVED,
        subject,
        before=alias_payload("champion", 3),
        after={**alias_payload("champion", 4), "unapproved": True},
        reason="Sync saw alias 'champion' change with no approved promotion.",
    )
    # An action without its own wording, with before/after records: once shown as JSON.
    ctx.audit.record(
        "gavel-sync",
        LedgerAction.RISK_TIER_OBSERVED,
        subject,
        before={"risk_tier": "low"},
        after={"risk_tier": "high"},
        reason="sync saw the risk_tier tag change",
    )
    runner = TaskRunner()
    page = AuditTrailPage(ctx, runner, _Feed())
    page.setStyleSheet(stylesheet())
    page.resize(1200, 400)
    page.show()
    qtbot.waitExposed(page)
    try:
        model = page.model
        model.reload()
        qtbot.waitUntil(lambda: not model.loading and model.rowCount() >= 3)

        def column(c: AuditColumn) -> list[str]:
            for r in range(model.rowCount()):
                model.data(model.index(r, c))  # starts the fetch
            qtbot.waitUntil(lambda: all(model.is_loaded(r) for r in range(model.rowCount())))
            return [str(model.data(model.index(r, c))) for r in range(model.rowCount())]

        summaries = column(AuditColumn.SUMMARY)
        assert summaries[:3] == [  # newest first; the ledger's own first event last
            "Risk tier seen: fraud in reg. Sync saw the risk_tier tag change.",
            "Alias 'champion' moved from v3 to v4, without an approved request.",
            BASELINE,
        ]
        for text in summaries:
            assert "{" not in text and '"' not in text and text.endswith("."), text

        # Newest first, and the header says descending, drawn ▼.
        seqs = [int(s) for s in column(AuditColumn.SEQ)]
        assert seqs == sorted(seqs, reverse=True)
        header = page.table.horizontalHeader()
        assert header.sortIndicatorSection() == AuditColumn.SEQ
        assert header.sortIndicatorOrder() is Qt.SortOrder.DescendingOrder
        image = header.grab().toImage()
        right = header.sectionViewportPosition(AuditColumn.SEQ) + header.sectionSize(
            AuditColumn.SEQ
        )
        assert _arrow_points_down(image, right - 18, right - 2)
        REVIEW.mkdir(exist_ok=True)
        header.grab().save(str(REVIEW / "audit-header.png"))
        page.grab().save(str(REVIEW / "audit-trail.png"))
    finally:
        page.stop()
        page.close()
        page.deleteLater()
        assert runner.shutdown(10_000)
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


class _Feed:
    """The governance feature's side of the audit page (its controller, in the console)."""

    def known_users(self) -> list[str]:
        return ["ann"]

    def acting_user(self) -> str | None:
        return None

    def on_change(self, callback: Callable[[], None]) -> None:
        pass

    def wrote(self) -> None:
        pass


def test_model_header_names_the_registry_clock_and_the_sync_clock(
    ctx: AppContext, qtbot: QtBot
) -> None:
    seed_cache(ctx, "reg", 3)
    console = build_console(ctx)
    console.window.resize(1360, 860)
    console.window.show()
    qtbot.waitExposed(console.window)
    try:
        assert console.portfolio.focus.show_model("reg", "model-0001")
        subtitle = console.portfolio.detail_view.subtitle.text().replace("&nbsp;", " ")
        assert "changed in the registry 2025-01-06 " in subtitle  # the registry's own clock
        assert "synced just now" in subtitle  # ours
        assert "updated" not in subtitle
        header = console.portfolio.portfolio_model.headerData(
            Column.LAST_UPDATED, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole
        )
        assert header == "Changed in registry"
    finally:
        console.window.close()
        console.window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
