"""Evidence pack… in the console: from the request view and from the versions list, a
save dialog, the pack written on the task runner, a sentence in the status bar; the
file holds the facts (read back with pypdf)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot

from app.services.mlflow_process import MlflowServerProcess
from app.stores.engine import sqlite_url
from app.ui.console import Console, build_console
from app.ui.governance.inbox_model import InboxFilter
from tests.evidence_data import Promotion, promote
from tests.fixtures.desks import DeskFactory
from tests.fixtures.mlflow import MlflowRegistry
from tests.ui_helpers import no_leaks, save_screenshot

pytestmark = [pytest.mark.gui, pytest.mark.integration, pytest.mark.usefixtures("no_leaks")]
__all__ = ["no_leaks"]
TIMEOUT = 30_000


@pytest.fixture
def shared_ledger_url(tmp_path: Path) -> Iterator[str]:
    yield sqlite_url(tmp_path / "team-ledger.sqlite3")


@pytest.fixture
def console(
    desks: DeskFactory, mlflow_server: MlflowServerProcess, qtbot: QtBot
) -> Iterator[tuple[Promotion, Console]]:
    promotion = promote(desks, MlflowRegistry(mlflow_server))
    console = build_console(promotion.ada.ctx)
    console.window.resize(1360, 860)
    console.window.show()
    qtbot.waitExposed(console.window)
    qtbot.waitUntil(lambda: console.governance.data.loaded, timeout=TIMEOUT)
    try:
        yield promotion, console
    finally:
        console.window.close()
        console.window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def _save_as(console: Console, qtbot: QtBot, path: Path) -> str:
    """Answer the save dialog with `path`; the sentence the console says when written."""
    exporter = console.governance.evidence
    qtbot.waitUntil(lambda: exporter.dialog is not None and exporter.dialog.isVisible())
    dialog = exporter.dialog
    assert isinstance(dialog, QFileDialog)
    assert dialog.acceptMode() is QFileDialog.AcceptMode.AcceptSave
    assert dialog.selectedFiles()[0].endswith(".pdf")  # PDF unless one chooses HTML
    dialog.selectFile(str(path))
    with qtbot.waitSignal(exporter.written, timeout=TIMEOUT) as blocker:
        dialog.accept()
    assert blocker.args is not None and blocker.args[0] == str(path)
    sentence = str(blocker.args[1])
    assert console.window.statusBar().currentMessage() == sentence
    return sentence


def test_request_view_saves_the_evidence_pack_as_pdf(
    console: tuple[Promotion, Console], qtbot: QtBot, tmp_path: Path
) -> None:
    promotion, window = console
    page = window.governance.approvals
    window.window.pages.select("approvals")
    page.set_filter(InboxFilter.ALL)  # an applied request waits for nobody
    qtbot.waitUntil(lambda: page.model.row_of(promotion.request_id) is not None, timeout=TIMEOUT)
    assert page.select_request(promotion.request_id)
    qtbot.waitUntil(lambda: page.detail.request_id == promotion.request_id, timeout=TIMEOUT)
    button = page.detail.evidence_button
    assert button.isEnabled() and "every signature" in button.toolTip()
    save_screenshot(window.window, "evidence_request_view")

    out = tmp_path / "request.pdf"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    sentence = _save_as(window, qtbot, out)
    assert sentence.startswith(f"Evidence pack saved: {out} (")
    assert "It rests on the ledger up to event" in sentence

    text = re.sub(r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(out).pages))
    assert promotion.model in text
    assert f"Evidence pack: promotion request {promotion.request_id}" in text
    assert "Event 15: approved by Ann" in text or "approved by Ann" in text


def test_versions_list_saves_a_version_pack_as_html(
    console: tuple[Promotion, Console], qtbot: QtBot, tmp_path: Path
) -> None:
    promotion, window = console
    ctx = promotion.ada.ctx
    window.window.pages.select("portfolio")
    key = ctx.portfolio.find_model(promotion.model, "reg").model_key
    assert window.portfolio.portfolio_view.select_key(key)
    detail = window.portfolio.detail_view
    qtbot.waitUntil(lambda: detail.detail is not None and detail.detail.name == promotion.model)
    row = detail.versions_model.row_of_version(2)
    assert row is not None
    detail.select_version_row(row)

    action = window.governance.evidence_action
    assert action.text() == "Evidence pack…"
    action.trigger()
    out = tmp_path / "v2.html"
    _save_as(window, qtbot, out)
    html = out.read_text(encoding="utf-8")
    assert f"Evidence pack: {promotion.model.replace('&', '&amp;')}" not in html  # escaped
    assert "Evidence pack: loan &quot;scoring&quot; &lt;" in html
    assert promotion.request_id in html and "data:image/png;base64," in html
