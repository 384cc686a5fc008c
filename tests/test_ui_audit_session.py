"""An audit session in the console: a bundle made from a desk synced from a real MLflow
registry, opened in a fresh GAVEL_HOME with no registry and no network, shows what the
live profile shows (portfolio, detail, audit trail with verify) under the session banner.
Export from the live console runs on a worker and writes a bundle that verifies."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QDate, QEvent, Qt
from PySide6.QtWidgets import QComboBox
from pytestqt.qtbot import QtBot

from app.bootstrap import AppContext, build_session_context
from app.domain.authority_records import Severity
from app.domain.bundle import BundleScope
from app.domain.endpoints import EndpointConfig, EndpointKind
from app.domain.governance import Role
from app.presentation.console_state import SESSION_STATUS
from app.services.bundles import SESSION_READ_ONLY, verify_bundle
from app.services.findings import read_findings
from app.stores import bundle_file
from app.stores.paths import resolve_paths
from app.ui.console import Console, build_console
from app.ui.governance.findings_page import (
    FINDINGS_PAGE,
    NOT_IMPORTED,
    FindingRow,
    FindingsPage,
    about_text,
)
from app.ui.governance.sign_dialog import SignDialog
from app.ui.serving.endpoints_model import EndpointColumn
from tests.fixtures.desks import Desk, DeskFactory, enrol
from tests.fixtures.mlflow import MlflowRegistry
from tests.fixtures.serving import MlserverEndpoint
from tests.test_bundles import _fresh_profile
from tests.test_delivery_integration import CHECKLIST
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
    laptop = _fresh_profile(tmp_path / "laptop", "aud")
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
        # The sidebar lists the bundle's registry with its models (not "All registries 0").
        sidebar = portfolio.sidebar
        everything, reg = sidebar.topLevelItem(0), sidebar.topLevelItem(1)
        assert everything is not None and everything.text(1) == str(len(live_rows))
        assert reg is not None and reg.text(0) == "reg\nsnapshot only"
        assert reg.text(1) == str(len(live_rows))
        assert "Read from the audit bundle" in reg.toolTip(0)
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
    ada, model = live
    console = _open(ada.ctx, qtbot)
    try:
        out = tmp_path / "exported.gavelbundle"
        dialog = console.bundles.export(out)
        assert dialog is not None and not dialog.sign_button.isEnabled()
        fields = console.bundles.scope_fields
        assert fields is not None and fields.scope() == BundleScope()  # all, by default
        fields.registries.setText("reg")
        fields.models.setText(f"{model}, ")
        fields.since_on.setChecked(True)
        fields.since.setDate(QDate(2020, 1, 31))
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
        report = verify_bundle(out)
        assert report.ok
        assert report.manifest["scope"] == {
            "registries": ["reg"],
            "models": [model],
            "since": "2020-01-31",
        }
        assert report.manifest["parts"]["registry snapshot"]["models"]["rows"] == 1
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
    laptop = _fresh_profile(tmp_path / "laptop", "aud")

    session = build_session_context(bundle, laptop, aud.credentials())
    console = _open(session, qtbot)
    try:
        page = _findings_page(console, qtbot)
        # The status bar names the auditor's role (it used to say "no role").
        gov = console.governance
        qtbot.waitUntil(lambda: gov.controller.data.loaded, timeout=TIMEOUT)
        assert "Signed in as Aud (aud) · auditor" in gov.identity_label.text()
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

    kept = read_findings(resolve_paths({"GAVEL_HOME": str(tmp_path / "laptop")}).findings_file)
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


@pytest.mark.integration
@pytest.mark.parametrize("shared_ledger_url", ["sqlite"], indirect=True)
def test_the_session_endpoints_page_shows_the_bundle_endpoints_and_probes_none(
    live: tuple[Desk, str],
    mlserver_endpoint: MlserverEndpoint,
    tmp_path: Path,
    qtbot: QtBot,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ada, model = live
    monkeypatch.setenv("SCORING_TOKEN", "tok-value")
    # The live profile watches a real MLServer; its URL carries a password, which the
    # bundle must not.
    url = mlserver_endpoint.url.replace("http://", "http://probe:s3cret-pw@")
    ada.ctx.endpoints.add(
        EndpointConfig(
            name="scoring",
            kind=EndpointKind.OIP,
            url=url,
            metrics_url=mlserver_endpoint.metrics_url,
            registry="reg",
            model=model,
            alias="production",
            served_name=mlserver_endpoint.model,
            timeout_s=10.0,
            token_env="SCORING_TOKEN",
        )
    )
    assert "endpoint scoring added" in caplog.text and "s3cret-pw" not in caplog.text
    ada.ctx.endpoints.probe("scoring")
    (live_status,) = ada.ctx.endpoints.statuses()
    live_record = live_status.record
    assert live_record.health is not None and live_record.health.value == "up"
    bundle = tmp_path / "audit.gavelbundle"
    summary = ada.ctx.bundles.create(bundle, BundleScope(), ada.passphrase)
    assert summary.counts["bundle_endpoints"] == 1
    plain = tmp_path / "plain.sqlite3"
    bundle_file.unpack(bundle, plain)
    raw = plain.read_bytes()
    assert b"s3cret-pw" not in raw and b"SCORING_TOKEN" not in raw and b"probe:" not in raw

    laptop = _fresh_profile(tmp_path / "laptop", "aud")
    session = build_session_context(bundle, laptop, ada.credentials())
    console = _open(session, qtbot)
    try:
        (cfg,) = session.endpoints.configs()
        assert cfg.url == mlserver_endpoint.url and cfg.token_env == ""
        console.start(start_demo=False)
        painted: list[bool] = []
        console.window.after_first_paint(lambda: painted.append(True))
        qtbot.waitUntil(lambda: bool(painted), timeout=TIMEOUT)  # start_polling ran before
        assert console.window.pages.select("endpoints")
        page = console.serving.page
        qtbot.waitUntil(lambda: page.loaded and page.model.rowCount() == 1, timeout=TIMEOUT)
        m = page.model
        row = m.row_of("scoring")
        assert row is not None
        assert m.data(m.index(row, EndpointColumn.HEALTH)) == "Up"
        served = ", ".join(f"v{v}" for v in live_record.served_versions) or "—"
        assert m.data(m.index(row, EndpointColumn.SERVED)) == served
        assert page.select("scoring")
        for widget in (page.add_button, page.edit_button, page.remove_button, page.probe_button):
            assert not widget.isEnabled()
        assert not page.interval.isEnabled()
        assert page.poll_state.text() == "not probed (audit session)"
        # The poller never starts: nothing reaches the network, the cache gains no sample.
        assert not console.serving.monitor.running
        (recorded,) = session.endpoints.statuses()
        assert recorded.record == live_record
        save_screenshot(console.window, "audit_session_endpoints")
    finally:
        _close(console)
        session.close()


def _session_with_a_request(
    ada: Desk, person: Desk, role: Role, model: str, tmp_path: Path
) -> tuple[AppContext, str]:
    """person enrolled with role, a request of Ada's waiting, a bundle of it all, and an
    audit session over that bundle on person's laptop (a profile that never synced)."""
    enrol(ada, person, role)
    rid = ada.ctx.governance.create_request(
        "reg", model, 2, "production", "Better recall.", CHECKLIST, passphrase=ada.passphrase
    ).request_id
    bundle = tmp_path / "audit.gavelbundle"
    ada.ctx.bundles.create(bundle, BundleScope(), ada.passphrase)
    laptop = _fresh_profile(tmp_path / "laptop", person.user)
    return build_session_context(bundle, laptop, person.credentials()), rid


@pytest.mark.parametrize("shared_ledger_url", ["sqlite"], indirect=True)
def test_a_session_disables_what_would_write_or_reach_the_network(
    live: tuple[Desk, str], desks: DeskFactory, tmp_path: Path, qtbot: QtBot
) -> None:
    ada, model = live
    # Bob is an approver with his key on this computer: live, he could approve Ada's request.
    session, rid = _session_with_a_request(ada, desks("bob"), Role.APPROVER, model, tmp_path)
    console = _open(session, qtbot)
    try:
        console.start(start_demo=True)  # a session starts no demo, checks no registry
        portfolio = console.portfolio
        qtbot.waitUntil(
            lambda: portfolio.settled and portfolio.portfolio_model.rowCount() > 0,
            timeout=TIMEOUT,
        )
        a = portfolio.actions
        for action in (a.add_registry, a.sync, a.start_demo, a.edit_registry, a.remove_registry):
            assert not action.isEnabled(), action.text()
            assert "Audit session (read-only)" in action.toolTip()
        assert not a.start_demo.isVisible()
        assert not session.demo.running
        assert portfolio.status.connectivity.text() == SESSION_STATUS
        assert portfolio.status.synced.text().startswith("Snapshot of ")
        gov = console.governance
        qtbot.waitUntil(lambda: gov.data.loaded, timeout=TIMEOUT)
        assert gov.ledger_label.text() == "Bundle's ledger"
        key = session.portfolio.find_model(model, "reg").model_key
        assert portfolio.portfolio_view.select_key(key)
        qtbot.waitUntil(lambda: portfolio.focus.version is not None, timeout=TIMEOUT)
        assert not gov.request_action.isEnabled()
        assert gov.request_action.toolTip() == SESSION_READ_ONLY

        page = gov.approvals
        assert console.window.pages.select("approvals")
        qtbot.waitUntil(lambda: page.select_request(rid), timeout=TIMEOUT)
        qtbot.waitUntil(lambda: page.detail.request_id == rid, timeout=TIMEOUT)
        for button in (page.detail.approve_button, page.detail.reject_button):
            assert not button.isEnabled()
            assert SESSION_READ_ONLY in button.toolTip()
        save_screenshot(console.window, "audit_session_approvals_read_only")

        assert console.window.pages.select("endpoints")
        assert not console.serving.page.add_button.isEnabled()
        assert console.window.pages.select("settings")
        assert not console.settings.page.join_button.isEnabled()
        assert "audit session" in console.settings.page.ledger_mode.text()
        assert console.window.pages.select("portfolio")
        save_screenshot(console.window, "audit_session_read_only")
    finally:
        _close(console)
        session.close()


def _sign_finding(
    dialog: SignDialog | None, severity: Severity, text: str, passphrase: str, qtbot: QtBot
) -> None:
    assert dialog is not None
    combo = dialog.findChild(QComboBox, "FindingSeverity")
    assert combo is not None
    combo.setCurrentIndex(combo.findData(severity.value))
    _sign(dialog, text, passphrase, qtbot)


@pytest.mark.parametrize("shared_ledger_url", ["sqlite"], indirect=True)
def test_findings_about_a_model_a_request_and_an_event_are_shown_beside_them(
    live: tuple[Desk, str], desks: DeskFactory, tmp_path: Path, qtbot: QtBot
) -> None:
    ada, model = live
    aud = desks("aud")
    session, rid = _session_with_a_request(ada, aud, Role.AUDITOR, model, tmp_path)
    console = _open(session, qtbot)
    try:
        findings = _findings_page(console, qtbot)
        # The model on screen: nothing found yet, so no line under its header.
        key = session.portfolio.find_model(model, "reg").model_key
        console.window.pages.select("portfolio")
        assert console.portfolio.portfolio_view.select_key(key)
        qtbot.waitUntil(lambda: console.portfolio.focus.version is not None, timeout=TIMEOUT)
        assert not findings.model_line.isVisible()
        findings.about_choice.setCurrentIndex(findings.about_choice.findData("model"))
        assert findings.record_button.isEnabled()
        _sign_finding(findings.record(), Severity.MAJOR, "No owner team.", aud.passphrase, qtbot)
        line = findings.model_line
        qtbot.waitUntil(lambda: line.isVisible(), timeout=TIMEOUT)
        assert "1 open finding about this model (major)" in line.text()
        save_screenshot(console.window, "audit_session_model_finding")
        line.linkActivated.emit(FINDINGS_PAGE)
        assert console.window.pages.current_key == FINDINGS_PAGE

        # A request, from its detail on the Approvals page.
        approvals = console.governance.approvals
        assert console.window.pages.select("approvals")
        qtbot.waitUntil(lambda: approvals.select_request(rid), timeout=TIMEOUT)
        detail = approvals.detail
        qtbot.waitUntil(lambda: detail.request_id == rid, timeout=TIMEOUT)
        assert not detail.findings_line.isVisible()
        assert detail.finding_button.isEnabled()  # a finding is not a ledger write
        with qtbot.waitSignal(detail.finding_requested):
            detail.finding_button.click()
        _sign_finding(findings.dialog, Severity.MINOR, "One-line justification.",
                      aud.passphrase, qtbot)  # fmt: skip
        qtbot.waitUntil(lambda: detail.findings_line.isVisible(), timeout=TIMEOUT)
        assert "1 open finding (minor)" in detail.findings_line.text()
        save_screenshot(console.window, "audit_session_request_finding")

        # A ledger event, from the audit trail.
        assert console.window.pages.select("audit")
        trail = console.audit.page
        qtbot.waitUntil(lambda: trail.model.rowCount() > 0, timeout=TIMEOUT)
        assert trail.select_seq(2)
        qtbot.waitUntil(lambda: trail.finding_button.isEnabled(), timeout=TIMEOUT)
        assert not trail.findings_line.isVisible()
        with qtbot.waitSignal(trail.finding_requested):
            trail.finding_button.click()
        _sign_finding(findings.dialog, Severity.OBSERVATION, "Enrolled before the policy.",
                      aud.passphrase, qtbot)  # fmt: skip
        qtbot.waitUntil(lambda: trail.findings_line.isVisible(), timeout=TIMEOUT)
        assert "1 open finding about this event (observation)" in trail.findings_line.text()
        assert trail.select_seq(3)
        qtbot.waitUntil(lambda: not trail.findings_line.isVisible(), timeout=TIMEOUT)
        save_screenshot(console.window, "audit_session_event_finding")

        page = _findings_page(console, qtbot)
        qtbot.waitUntil(lambda: page.model.rowCount() == 3, timeout=TIMEOUT)
        kinds = {(page.model.finding_at(i) or FINDING_NONE).about.get("kind") for i in range(3)}
        assert kinds == {"model", "request", "event"}
    finally:
        _close(console)
        session.close()
    kept = read_findings(resolve_paths({"GAVEL_HOME": str(tmp_path / "laptop")}).findings_file)
    assert [f.document["about"]["kind"] for f in kept] == ["model", "request", "event"]
    assert kept[1].document["about"]["request_id"] == rid
