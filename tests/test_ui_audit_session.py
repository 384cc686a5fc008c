"""An audit session in the console: a bundle made from a desk synced from a real MLflow
registry, opened in a fresh GAVEL_HOME with no registry and no network, shows what the
live profile shows (portfolio, detail, audit trail with verify) under the session banner.
Export from the live console runs on a worker and writes a bundle that verifies."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from pytestqt.qtbot import QtBot

from app.bootstrap import AppContext, build_session_context
from app.domain.authority_records import Severity
from app.domain.bundle import BundleScope
from app.domain.governance import Role
from app.services.bundles import SESSION_READ_ONLY, verify_bundle
from app.stores.paths import resolve_paths
from app.stores.profile_file import Profile, ProfileFile
from app.ui.console import Console, build_console
from app.ui.governance.findings_page import (
    FINDINGS_PAGE,
    NOT_IMPORTED,
    FindingRow,
    FindingsPage,
    about_text,
)
from app.ui.governance.sign_dialog import SignDialog
from tests.fixtures.desks import Desk, DeskFactory, enrol
from tests.fixtures.mlflow import MlflowRegistry
from tests.test_trust_attacks import _seed
from tests.ui_helpers import save_screenshot

pytestmark = [pytest.mark.gui, pytest.mark.slow]
TIMEOUT = 30_000
FINDING_NONE = FindingRow("", "", {}, "", "", "", "", False, False)


@pytest.fixture
def live(desks: DeskFactory, seeded_registry: MlflowRegistry) -> Iterator[tuple[Desk, str]]:
    model = f"ses-{uuid.uuid4().hex[:8]}"
    _seed(seeded_registry, model, tier="high")
    ada = desks("ada")
    enrol(ada, ada, Role.REQUESTER, Role.APPROVER)
    ada.ctx.registries.add(seeded_registry.config("reg"))
    ada.ctx.sync.sync("reg")
    yield ada, model


def _open(ctx: AppContext, qtbot: QtBot) -> Console:
    console = build_console(ctx)
    console.window.resize(1360, 860)
    console.window.show()
    qtbot.waitExposed(console.window)
    return console


def _close(console: Console) -> None:
    console.window.close()
    console.window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def _verify(console: Console, qtbot: QtBot) -> str:
    assert console.window.pages.select("audit")
    page = console.audit.page
    qtbot.waitUntil(lambda: not page.model.loading and page.model.rowCount() > 0, timeout=TIMEOUT)
    checks = page.checks
    checks.verify_button.click()
    qtbot.waitUntil(lambda: checks.report is not None, timeout=TIMEOUT)
    assert checks.report is not None and checks.report.ok
    return checks.result.label.text()


@pytest.mark.parametrize("shared_ledger_url", ["sqlite"], indirect=True)
def test_a_bundle_opens_offline_and_shows_what_the_live_profile_shows(
    live: tuple[Desk, str], tmp_path: Path, qtbot: QtBot
) -> None:
    ada, model = live
    bundle = tmp_path / "audit.gavelbundle"
    ada.ctx.bundles.create(bundle, BundleScope(), ada.passphrase)
    before = bundle.read_bytes()
    live_rows = ada.ctx.portfolio.all_rows()
    live_head = ada.ctx.audit.store.head()

    # The auditor's laptop: a profile that never saw the registry or the team ledger.
    laptop = resolve_paths({"GAVEL_HOME": str(tmp_path / "laptop")})
    laptop.ensure()
    ProfileFile(laptop.profile_file).save(Profile(user_id="aud"))
    session = build_session_context(bundle, laptop, ada.credentials())
    console = _open(session, qtbot)
    try:
        assert session.registries.configs() == [] and session.team_ledger is None
        banner = console.bundles.banner
        assert banner is not None and banner.isVisible()
        text = banner.label.text()
        assert "Audit session" in text and "bundle from reg" in text
        assert "by ada, manifest verified" in text
        assert not console.bundles.export_action.isEnabled()
        controller = console.governance.controller
        qtbot.waitUntil(lambda: controller.data.loaded, timeout=TIMEOUT)
        assert controller.data.read_only == SESSION_READ_ONLY

        portfolio = console.portfolio
        qtbot.waitUntil(
            lambda: portfolio.settled and portfolio.portfolio_model.rowCount() > 0,
            timeout=TIMEOUT,
        )
        assert portfolio.portfolio_model.rowCount() == len(live_rows)
        key = session.portfolio.find_model(model, "reg").model_key
        assert portfolio.portfolio_view.select_key(key)
        detail = portfolio.detail_view
        qtbot.waitUntil(
            lambda: detail.detail is not None and detail.detail.name == model, timeout=TIMEOUT
        )
        assert "production → v1" in detail.aliases.text()
        assert detail.versions_model.rowCount() == 3
        save_screenshot(console.window, "audit_session_portfolio")

        verified = _verify(console, qtbot)
        assert live_head is not None and f"{live_head.seq:,} events" in verified
        assert console.audit.page.model.rowCount() == live_head.seq
        save_screenshot(console.window, "audit_session_trail_verified")
    finally:
        _close(console)
        session.close()
    assert bundle.read_bytes() == before  # nothing was written into the bundle


@pytest.mark.parametrize("shared_ledger_url", ["sqlite"], indirect=True)
def test_export_audit_bundle_signs_on_a_worker_and_writes_a_bundle_that_verifies(
    live: tuple[Desk, str], tmp_path: Path, qtbot: QtBot
) -> None:
    ada, _model = live
    console = _open(ada.ctx, qtbot)
    try:
        out = tmp_path / "exported.gavelbundle"
        dialog = console.bundles.export(out)
        assert dialog is not None and not dialog.sign_button.isEnabled()
        save_screenshot(dialog, "audit_bundle_export_dialog")
        dialog.passphrase.edit.setText("not it")
        qtbot.mouseClick(dialog.sign_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: dialog.passphrase.error.isVisible(), timeout=TIMEOUT)
        assert not out.exists()
        dialog.passphrase.edit.setText(ada.passphrase)
        with qtbot.waitSignal(dialog.finished, timeout=TIMEOUT):
            qtbot.mouseClick(dialog.sign_button, Qt.MouseButton.LeftButton)
        task = console.bundles.task
        assert task is not None  # the bundle is built on a worker, tracked in the status bar
        qtbot.waitUntil(lambda: task.done, timeout=TIMEOUT)
        assert verify_bundle(out).ok
        assert "Audit bundle written to" in console.window.statusBar().currentMessage()
    finally:
        _close(console)


def _findings_page(console: Console, qtbot: QtBot) -> FindingsPage:
    assert console.window.pages.select(FINDINGS_PAGE)
    page = console.findings
    qtbot.waitUntil(lambda: page.loaded, timeout=TIMEOUT)
    return page


def _sign(dialog: SignDialog | None, text: str, passphrase: str, qtbot: QtBot) -> None:
    assert dialog is not None and not dialog.sign_button.isEnabled()
    dialog.reason.setPlainText(text)
    dialog.passphrase.edit.setText(passphrase)
    with qtbot.waitSignal(dialog.finished, timeout=TIMEOUT):
        qtbot.mouseClick(dialog.sign_button, Qt.MouseButton.LeftButton)
    assert dialog.signed


@pytest.mark.parametrize("shared_ledger_url", ["sqlite"], indirect=True)
def test_a_finding_recorded_in_a_session_is_imported_and_an_admin_closes_it(
    live: tuple[Desk, str], desks: DeskFactory, tmp_path: Path, qtbot: QtBot
) -> None:
    ada, model = live
    aud = desks("aud")
    enrol(ada, aud, Role.AUDITOR)
    bundle = tmp_path / "audit.gavelbundle"
    ada.ctx.bundles.create(bundle, BundleScope(), ada.passphrase)
    laptop = resolve_paths({"GAVEL_HOME": str(tmp_path / "laptop")})
    laptop.ensure()
    ProfileFile(laptop.profile_file).save(Profile(user_id="aud"))

    session = build_session_context(bundle, laptop, aud.credentials())
    console = _open(session, qtbot)
    try:
        page = _findings_page(console, qtbot)
        assert not page.record_button.isEnabled()  # no version on screen yet
        assert not page.close_button.isVisible()  # an auditor closes nothing
        key = session.portfolio.find_model(model, "reg").model_key
        console.window.pages.select("portfolio")
        assert console.portfolio.portfolio_view.select_key(key)
        qtbot.waitUntil(lambda: console.portfolio.focus.version is not None, timeout=TIMEOUT)
        page = _findings_page(console, qtbot)
        page.severity.setCurrentIndex(page.severity.findData(Severity.MAJOR.value))
        _sign(page.record(), "No validation report attached.", aud.passphrase, qtbot)
        qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=TIMEOUT)
        row = page.model.finding_at(0)
        assert row is not None and row.state == NOT_IMPORTED and row.severity == "major"
        assert f"of {model} in reg" in about_text(row.about)
        save_screenshot(console.window, "audit_session_findings")
    finally:
        _close(console)
        session.close()

    # Back at the office: the findings kept in the laptop profile go into the team ledger.
    from app.services.findings import FindingService, read_findings

    kept = read_findings(laptop.findings_file)
    assert len(kept) == 1
    result = FindingService(aud.ctx.authority, aud.ctx.actor).import_findings(kept, aud.passphrase)
    assert len(result.added) == 1
    live_console = _open(ada.reopen(), qtbot)
    try:
        live_console.governance.controller.refresh()
        qtbot.waitUntil(
            lambda: Role.ADMIN in live_console.governance.controller.data.my_roles,
            timeout=TIMEOUT,
        )
        page = _findings_page(live_console, qtbot)
        qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=TIMEOUT)
        assert (page.model.finding_at(0) or FINDING_NONE).state == "Open"
        page.table.selectRow(0)
        assert page.close_button.isVisible() and page.close_button.isEnabled()
        _sign(page.close_selected(), "Report attached as VR-7.", ada.passphrase, qtbot)
        qtbot.waitUntil(
            lambda: (page.model.finding_at(0) or FINDING_NONE).state.startswith("Resolved by ada"),
            timeout=TIMEOUT,
        )
        save_screenshot(live_console.window, "findings_resolved")
    finally:
        _close(live_console)
