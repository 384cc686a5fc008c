"""Verify and export the ledger: the tool row, the running task's progress with
Cancel, and the banner with the result. Both run in workers and can be cancelled."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.cancel import CancelToken
from app.domain.errors import Cancelled, GavelError
from app.domain.ledger import Checkpoint, ExportFormat, VerifyReport
from app.domain.progress import Progress, ProgressCallback
from app.presentation.formatting import progress_text
from app.services.audit import AuditService, ExportResult
from app.ui.audit.governance_feed import GovernanceFeed
from app.ui.common.resources import icon
from app.ui.common.signals import emit
from app.ui.common.tasks import TaskHandle, TaskRunner
from app.ui.common.widgets import Banner, error_label

VERIFY_TASK = "audit-verify"
EXPORT_TASK = "audit-export"

# (path, format) chosen for an export, or None when the person cancelled.
ExportChooser = Callable[[QWidget], tuple[Path, ExportFormat] | None]


def choose_export_file(parent: QWidget) -> tuple[Path, ExportFormat] | None:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    path, selected = QFileDialog.getSaveFileName(
        parent,
        "Export the audit ledger",
        str(Path.home() / f"gavel-audit-{stamp}.jsonl"),
        "JSON Lines, verifiable offline (*.jsonl);;CSV for spreadsheets (*.csv)",
    )
    if not path:
        return None
    fmt = ExportFormat.CSV if path.endswith(".csv") or "csv" in selected else ExportFormat.JSONL
    return Path(path), fmt


def intact_text(report: VerifyReport, checkpoint: Checkpoint | None) -> str:
    if report.head is None:
        return "The audit ledger is empty: nothing to verify yet."
    extends = (
        f" It still extends your checkpoint {checkpoint.seq}:{checkpoint.hash[:12]}…."
        if checkpoint
        else ""
    )
    signatures = report.signatures_checked
    return (
        f"Ledger intact: {report.events_checked:,} events, head checkpoint {report.head} — "
        f"keep it for your next audit. Every hash, link and signature checked "
        f"({signatures:,} signature{'s' if signatures != 1 else ''}).{extends}"
    )


class LedgerChecks(QWidget):
    message = Signal(str)
    verified = Signal(object)  # VerifyReport
    jump_requested = Signal(int)  # the first bad event's sequence number

    def __init__(
        self,
        audit: AuditService,
        runner: TaskRunner,
        governance: GovernanceFeed,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.audit = audit
        self.runner = runner
        self.governance = governance
        self.choose_export: ExportChooser = choose_export_file
        self.report: VerifyReport | None = None
        self._verify: TaskHandle | None = None
        self._export: TaskHandle | None = None

        self.checkpoint = QLineEdit()
        self.checkpoint.setPlaceholderText("Checkpoint from your last audit, SEQ:HASH (optional)")
        self.checkpoint.setClearButtonEnabled(True)
        self.checkpoint.setMinimumWidth(240)
        self.verify_button = QPushButton(icon("success"), "Verify ledger")
        self.verify_button.setToolTip(
            "Recompute every event's hash, the chain and every signature; report the first "
            "bad event"
        )
        self.verify_button.clicked.connect(self.verify)
        self.export_button = QPushButton(icon("folder"), "Export…")
        self.export_button.setToolTip(
            "Write the whole ledger to a file (JSON Lines verifies offline; CSV for "
            "spreadsheets). The export itself is recorded in the ledger."
        )
        self.export_button.clicked.connect(self.export)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(200)
        self.progress.setMaximumHeight(16)
        self.progress_label = QLabel()
        self.progress_label.setObjectName("Muted")
        self.cancel_button = QPushButton(icon("cancel"), "Cancel")
        self.cancel_button.clicked.connect(self.cancel_task)
        # The page puts its event count at the end of this row.
        self.tools = tools = QHBoxLayout()
        tools.addWidget(self.checkpoint)
        tools.addWidget(self.verify_button)
        tools.addWidget(self.export_button)
        tools.addWidget(self.progress_label)
        tools.addWidget(self.progress)
        tools.addWidget(self.cancel_button)
        tools.addStretch(1)
        self.checkpoint_error = error_label()

        self.result = Banner("success", "success")
        self.copy_button = self.result.add_button("Copy checkpoint", self.copy_checkpoint)
        self.jump_button = self.result.add_button("Jump to event", self.jump_to_problem)
        self.result.add_button("Dismiss", self.result.hide)

        self.checkpoint.textChanged.connect(lambda _="": self.checkpoint_error.hide())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(tools)
        layout.addWidget(self.checkpoint_error)
        layout.addWidget(self.result)
        self._set_task_visible(False)

    # -- verify --------------------------------------------------------------------------

    def verify(self) -> None:
        if self._busy():
            return
        text = self.checkpoint.text().strip()
        checkpoint: Checkpoint | None = None
        if text:
            try:
                checkpoint = Checkpoint.parse(text)
            except GavelError as exc:
                self.checkpoint_error.setText(exc.message)
                self.checkpoint_error.show()
                return
        audit = self.audit

        def work(cancel: CancelToken, progress: ProgressCallback) -> VerifyReport:
            return audit.verify(checkpoint, progress=progress, cancel=cancel)

        self.result.hide()
        self._verify = self._start(
            work,
            VERIFY_TASK,
            "Verifying the ledger",
            lambda report: self._verified(report, checkpoint),
        )

    def _verified(self, report: VerifyReport, checkpoint: Checkpoint | None) -> None:
        self._verify = None
        self._set_task_visible(False)
        self.report = report
        emit(self.verified, report)
        if report.problem is None:
            self.result.set_kind("success", "success")
            self.result.show_text(intact_text(report, checkpoint))
            self.copy_button.setVisible(report.head is not None)
            self.jump_button.hide()
        else:
            head = (
                f" Events 1–{report.head.seq} verify (checkpoint {report.head.seq}:"
                f"{report.head.hash[:12]}…)."
                if report.head is not None
                else ""
            )
            self.result.set_kind("error", "error")
            self.result.show_text(
                f"Ledger NOT intact — first bad event {report.problem.seq}: "
                f"{report.problem.message}{head} Keep the ledger as it is and tell your "
                "auditor."
            )
            self.copy_button.hide()
            self.jump_button.setText(f"Jump to event {report.problem.seq}")
            self.jump_button.show()
        emit(
            self.message,
            "Verification finished: the ledger is intact."
            if report.problem is None
            else f"Verification finished: the ledger is NOT intact (event {report.problem.seq}).",
        )

    def copy_checkpoint(self) -> None:
        if self.report is not None and self.report.head is not None:
            QApplication.clipboard().setText(str(self.report.head))
            emit(self.message, f"Checkpoint {self.report.head} copied to the clipboard.")

    def jump_to_problem(self) -> None:
        if self.report is not None and self.report.problem is not None:
            emit(self.jump_requested, self.report.problem.seq)

    def show_failure(self, text: str) -> None:
        self.result.set_kind("error", "error")
        self.copy_button.hide()
        self.jump_button.hide()
        self.result.show_text(text)

    # -- export --------------------------------------------------------------------------

    def export(self) -> None:
        if self._busy():
            return
        chosen = self.choose_export(self)
        if chosen is None:
            return
        path, fmt = chosen
        audit = self.audit
        actor = self.governance.acting_user() or "gavel-console"

        def work(cancel: CancelToken, progress: ProgressCallback) -> ExportResult:
            return audit.export(path, fmt, actor=actor, progress=progress, cancel=cancel)

        self.result.hide()
        self._export = self._start(work, EXPORT_TASK, "Exporting the ledger", self._exported)

    def _exported(self, result: ExportResult) -> None:
        self._export = None
        self._set_task_visible(False)
        self.result.set_kind("success", "success")
        self.copy_button.hide()
        self.jump_button.hide()
        self.result.show_text(
            f"Exported {result.events:,} events to {result.path} (SHA-256 "
            f"{result.sha256}). The export is recorded as event {result.record.seq}."
        )
        emit(self.message, f"Exported {result.events:,} audit events to {result.path}.")
        self.governance.wrote()

    # -- shared task plumbing -------------------------------------------------------------

    def _busy(self) -> bool:
        return self._verify is not None or self._export is not None

    def _start(
        self,
        work: Callable[[CancelToken, ProgressCallback], object],
        key: str,
        label: str,
        done: Callable[..., None],
    ) -> TaskHandle:
        handle = self.runner.run(
            work, key=key, label=label, on_success=done, on_failure=self._task_failed
        )
        handle.progressed.connect(self._progressed)
        self.progress_label.setText(f"{label}…")
        self.progress.setRange(0, 0)
        self._set_task_visible(True)
        return handle

    def _progressed(self, progress: Progress) -> None:
        self.progress_label.setText(progress_text(progress))
        if progress.total:
            self.progress.setRange(0, progress.total)
            self.progress.setValue(min(progress.done, progress.total))

    def _task_failed(self, exc: GavelError) -> None:
        what = "Verification" if self._verify is not None else "The export"
        self._verify = self._export = None
        self._set_task_visible(False)
        if isinstance(exc, Cancelled):
            emit(self.message, f"{what} was cancelled; nothing was changed.")
            return
        self.show_failure(f"{what} failed: {exc.message}")

    def cancel_task(self) -> None:
        for handle in (self._verify, self._export):
            if handle is not None:
                handle.cancel()
        self.cancel_button.setEnabled(False)
        self.progress_label.setText("Cancelling…")

    def _set_task_visible(self, visible: bool) -> None:
        for widget in (self.progress, self.progress_label, self.cancel_button):
            widget.setVisible(visible)
        self.cancel_button.setEnabled(visible)
        self.verify_button.setEnabled(not visible)
        self.export_button.setEnabled(not visible)
