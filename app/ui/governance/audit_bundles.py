"""Audit bundles in the console: File → Export audit bundle… (signed with the
exporter's key, built on a worker), File → Open audit bundle… (a console of its own,
`gavel open FILE`), and, in an audit session, the banner saying what is open."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QDate, QProcess, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QDateEdit,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.domain.bundle import BUNDLE_SUFFIX, BundleReport, BundleScope
from app.domain.cancel import CancelToken
from app.domain.progress import ProgressCallback
from app.services.bundles import BundleSummary
from app.ui.common.context import ConsoleContext
from app.ui.common.host import Host
from app.ui.common.tasks import TaskHandle, TaskRunner
from app.ui.common.widgets import Banner
from app.ui.governance.sign_dialog import SignDialog

FILE_MENU = "&File"
_FILTER = f"Audit bundles (*{BUNDLE_SUFFIX});;All files (*)"


def session_text(report: BundleReport) -> str:
    m = report.manifest
    origin = ", ".join(r["name"] for r in m.get("registries", [])) or "no registry"
    made = str(m.get("made_at", "?")).replace("T", " ").replace("Z", " UTC")
    return (
        f"<b>Audit session</b> — bundle from {origin}, made {made} by "
        f"{m.get('made_by', '?')}, manifest verified. Read-only and offline: nothing is "
        "synced and nothing is written into the bundle."
    )


class ScopeFields(QWidget):
    """What the bundle covers: registries and models (empty: all), versions since a day."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.registries = QLineEdit()
        self.registries.setPlaceholderText("all registries (or names, comma-separated)")
        self.models = QLineEdit()
        self.models.setPlaceholderText("all models (or names, comma-separated)")
        self.since_on = QCheckBox("Only versions and endpoint samples from")
        self.since = QDateEdit(QDate.currentDate().addMonths(-12))
        self.since.setDisplayFormat("yyyy-MM-dd")
        self.since.setCalendarPopup(True)
        self.since.setEnabled(False)
        self.since_on.toggled.connect(self.since.setEnabled)
        since = QHBoxLayout()
        since.setContentsMargins(0, 0, 0, 0)
        since.addWidget(self.since_on)
        since.addWidget(self.since)
        since.addStretch(1)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.addRow("Registries", self.registries)
        form.addRow("Models", self.models)
        form.addRow("Since (UTC)", since)

    def scope(self) -> BundleScope:
        def names(edit: QLineEdit) -> tuple[str, ...]:
            return tuple(n.strip() for n in edit.text().split(",") if n.strip())

        since = self.since.date().toString("yyyy-MM-dd") if self.since_on.isChecked() else ""
        return BundleScope(names(self.registries), names(self.models), since)


class AuditBundles:
    """The two File actions, and the session banner when the console is on a bundle."""

    def __init__(
        self, host: Host, ctx: ConsoleContext, runner: TaskRunner, parent: QWidget
    ) -> None:
        """parent: the window the dialogs belong to."""
        self.host, self.ctx, self.runner, self.parent = host, ctx, runner, parent
        self.dialog: SignDialog | None = None
        self.task: TaskHandle | None = None
        self.banner: Banner | None = None
        self.scope_fields: ScopeFields | None = None
        self.export_action = QAction("Export audit bundle…", parent)
        self.export_action.setToolTip(
            "Write one signed file with the registry snapshot, lineage, endpoint "
            "observations and the whole audit ledger, for an offline audit"
        )
        self.export_action.triggered.connect(self.ask_export)
        self.open_action = QAction("Open audit bundle…", parent)
        self.open_action.setToolTip("Open a bundle read-only in a console of its own")
        self.open_action.triggered.connect(self.ask_open)
        host.add_action(FILE_MENU, self.export_action, section="bundles")
        host.add_action(FILE_MENU, self.open_action, section="bundles")
        if ctx.session is not None:
            self.export_action.setEnabled(False)
            self.export_action.setToolTip("An audit session exports nothing")
            self.banner = Banner("demo", "signature")
            self.banner.show_text(session_text(ctx.session))
            host.add_banner(self.banner)

    def ask_export(self) -> None:
        name, _ = QFileDialog.getSaveFileName(
            self.parent, "Export audit bundle", f"audit{BUNDLE_SUFFIX}", _FILTER
        )
        if name:
            self.export(Path(name))

    def export(self, out: Path) -> SignDialog | None:
        """Ask for the passphrase (the signing dialog unlocks the key), then build the
        bundle of everything this profile holds on a worker, with progress and Cancel in
        the status bar."""
        user = self.ctx.identity.user_id()
        if not user:
            self.host.show_notice(
                "Exporting an audit bundle signs it with your key: enrol first "
                "(Identity → Enroll…)."
            )
            return None
        actor = self.ctx.actor
        dialog = SignDialog(
            self.runner,
            "Export audit bundle",
            f"Writes <b>{out}</b>: the registry snapshot, lineage, endpoints and their "
            "observations, the whole audit ledger and the enrolled public keys, with a "
            "manifest signed by your key so an auditor can check nothing was changed.",
            user,
            "Sign and export",
            lambda _reason, passphrase: (actor.user_id(), actor.signer(passphrase)),
            parent=self.parent,
        )
        dialog.signer_note.setText(
            f"Signed with the key of <b>{user}</b>. Nothing is written to the ledger. The "
            "ledger is always exported whole: its events are chained."
        )
        fields = ScopeFields(dialog)
        box = dialog.layout()
        assert isinstance(box, QVBoxLayout)
        box.insertWidget(2, fields)
        self.scope_fields = fields
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _r: self._unlocked(dialog, out, fields.scope()))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _unlocked(self, dialog: SignDialog, out: Path, scope: BundleScope) -> None:
        self.dialog = None
        if not dialog.signed:
            return
        made_by, signer = dialog.result
        bundles = self.ctx.bundles

        def build(cancel: CancelToken, progress: ProgressCallback) -> BundleSummary:
            return bundles.write(out, scope, made_by, signer, progress, cancel)

        self.task = self.runner.run(
            build,
            key="export-audit-bundle",
            label="Exporting audit bundle",
            on_success=self._exported,
            on_failure=lambda exc: self.host.show_notice(
                f"The audit bundle was not written: {exc.message}"
            ),
        )
        self.host.track_task(self.task)

    def _exported(self, result: BundleSummary) -> None:
        self.host.show_status(
            f"Audit bundle written to {result.path} ({result.size / 1e6:.1f} MB; "
            f"the cache is {result.cache_size / 1e6:.1f} MB)."
        )

    def ask_open(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self.parent, "Open audit bundle", "", _FILTER)
        if name:
            self.open(Path(name))

    def open(self, bundle: Path) -> bool:
        """Start `gavel open FILE`: the session gets a console (and a process) of its own."""
        started, _pid = QProcess.startDetached(sys.executable, ["-m", "app", "open", str(bundle)])
        if not started:
            self.host.show_notice(f"Could not start a console for {bundle}.")
        return bool(started)
