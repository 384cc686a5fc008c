"""The Audit trail page: the whole ledger (lazy), filters applied in SQL, Verify with
progress and cancel, and Export. Everything that touches the ledger runs in a worker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QDateTime, QItemSelectionModel, Qt, QTimer, QTimeZone, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.domain.cancel import CancelToken
from app.domain.errors import Cancelled, GavelError
from app.domain.ledger import Checkpoint, ExportFormat, LedgerAction, VerifyReport
from app.domain.ledger_query import LedgerQuery, model_subject
from app.domain.progress import Progress, ProgressCallback
from app.services.audit import ExportResult
from app.ui.audit.audit_model import AuditColumn, AuditTrailModel
from app.ui.common.context import ConsoleContext
from app.ui.common.formatting import progress_text
from app.ui.common.ledger_text import ACTION_LABELS
from app.ui.common.resources import icon
from app.ui.common.signals import emit
from app.ui.common.tasks import TaskHandle, TaskRunner
from app.ui.common.widgets import Banner, EmptyState, row_table

log = logging.getLogger("gavel.ui.audit")

VERIFY_TASK = "audit-verify"
EXPORT_TASK = "audit-export"
FILTER_DELAY_MS = 250
ANY = "__any__"

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


class GovernanceFeed(Protocol):
    """What the audit trail needs from governance (its state controller fits): who
    the people in the ledger are, who acts here, and when the ledger moved."""

    def known_users(self) -> list[str]: ...

    def acting_user(self) -> str | None: ...

    def on_change(self, callback: Callable[[], None]) -> None: ...

    def wrote(self) -> None:
        """This console wrote to the ledger (the export records itself)."""
        ...


class AuditTrailPage(QWidget):
    message = Signal(str)

    def __init__(
        self,
        ctx: ConsoleContext,
        runner: TaskRunner,
        governance: GovernanceFeed,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.runner = runner
        self.governance = governance
        self.choose_export: ExportChooser = choose_export_file
        self.report: VerifyReport | None = None
        self._verify: TaskHandle | None = None
        self._export: TaskHandle | None = None
        self._jump_seq: int | None = None
        self._keep_seq: int | None = None

        # -- filters
        self.subject = QComboBox()
        self.subject.setEditable(True)
        self.subject.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.subject.setMinimumWidth(220)
        self.subject.addItem("Any model or subject", ANY)
        self.subject.setToolTip(
            "Pick a model, or type the start of a subject (e.g. request: or model:demo/)"
        )
        self.actor = QComboBox()
        self.actor.setEditable(True)
        self.actor.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.actor.addItem("Any actor", ANY)
        self.actor.setMinimumWidth(130)
        self.action = QComboBox()
        self.action.addItem("Any action", ANY)
        for action in LedgerAction:
            self.action.addItem(ACTION_LABELS.get(action, action.value), action.value)
        self.since_on = QCheckBox("From")
        self.until_on = QCheckBox("to")
        now = QDateTime.currentDateTimeUtc()
        self.since = self._datetime_edit(now.addDays(-30))
        self.until = self._datetime_edit(now)
        self.clear_button = QPushButton("Clear filters")
        self.clear_button.clicked.connect(self.clear_filters)
        filters = QHBoxLayout()
        for widget in (
            QLabel("Model"),
            self.subject,
            QLabel("Actor"),
            self.actor,
            QLabel("Action"),
            self.action,
            self.since_on,
            self.since,
            self.until_on,
            self.until,
            self.clear_button,
        ):
            filters.addWidget(widget)
        filters.addStretch(1)

        # -- verify and export
        self.checkpoint = QLineEdit()
        self.checkpoint.setPlaceholderText("Checkpoint from your last audit, SEQ:HASH (optional)")
        self.checkpoint.setClearButtonEnabled(True)
        self.checkpoint.setMinimumWidth(330)
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
        self.count_label = QLabel()
        self.count_label.setObjectName("Muted")
        tools = QHBoxLayout()
        tools.addWidget(self.checkpoint)
        tools.addWidget(self.verify_button)
        tools.addWidget(self.export_button)
        tools.addWidget(self.progress_label)
        tools.addWidget(self.progress)
        tools.addWidget(self.cancel_button)
        tools.addStretch(1)
        tools.addWidget(self.count_label)
        self.checkpoint_error = QLabel()
        self.checkpoint_error.setObjectName("FieldError")
        self.checkpoint_error.hide()

        self.result = Banner("success", "success")
        self.copy_button = self.result.add_button("Copy checkpoint", self.copy_checkpoint)
        self.jump_button = self.result.add_button("Jump to event", self.jump_to_problem)
        self.result.add_button("Dismiss", self.result.hide)

        # -- the table
        self.model = AuditTrailModel(ctx.audit, runner, self)
        self.table = row_table(
            self.model,
            "AuditTable",
            widths=(
                (AuditColumn.SEQ, 64),
                (AuditColumn.TIME, 140),
                (AuditColumn.ACTOR, 90),
                (AuditColumn.ACTION, 140),
                (AuditColumn.SUBJECT, 230),
                (AuditColumn.SIGNED, 120),
            ),
            row_height=24,
            stretch=AuditColumn.SUMMARY,
        )
        # A million rows: fixed heights spare Qt from measuring any of them.
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header = self.table.horizontalHeader()
        header.setSortIndicator(AuditColumn.SEQ, Qt.SortOrder.DescendingOrder)
        self.table.setSortingEnabled(True)
        self.empty = EmptyState()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(filters)
        layout.addLayout(tools)
        layout.addWidget(self.checkpoint_error)
        layout.addWidget(self.result)
        layout.addWidget(self.stack, 1)

        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(FILTER_DELAY_MS)
        self._filter_timer.timeout.connect(self.apply_filters)
        for combo in (self.subject, self.actor, self.action):
            combo.currentIndexChanged.connect(lambda _=0: self._filter_timer.start())
        for combo in (self.subject, self.actor):
            combo.editTextChanged.connect(lambda _="": self._filter_timer.start())
        for box, edit in ((self.since_on, self.since), (self.until_on, self.until)):
            edit.setEnabled(False)
            box.toggled.connect(edit.setEnabled)
            box.toggled.connect(lambda _=False: self._filter_timer.start())
        for edit in (self.since, self.until):
            edit.dateTimeChanged.connect(lambda _=None: self._filter_timer.start())
        self.checkpoint.textChanged.connect(lambda _="": self.checkpoint_error.hide())

        self.model.loading_changed.connect(lambda _=False: self._update_state())
        self.model.modelAboutToBeReset.connect(self._remember_selection)
        self.model.index_loaded.connect(self._index_loaded)
        self.model.load_failed.connect(self._show_failure)
        governance.on_change(self._governance_changed)
        # After every sync, write or periodic refresh: new events are inserted on top.
        governance.on_change(self.model.reload)
        self._set_task_visible(False)
        self._update_state()
        # The first governance refresh (after the console's first paint) reloads the
        # table; the model filter is filled then too (see audit_ui).

    def stop(self) -> None:
        self._filter_timer.stop()
        self.model.close()

    def _datetime_edit(self, value: QDateTime) -> QDateTimeEdit:
        edit = QDateTimeEdit(value)
        edit.setTimeZone(QTimeZone.utc())
        edit.setDisplayFormat("yyyy-MM-dd HH:mm 'UTC'")
        edit.setCalendarPopup(True)
        return edit

    # -- filters -----------------------------------------------------------------------

    def query(self) -> LedgerQuery:
        subject = subject_prefix = actor = None
        data = self.subject.currentData()
        text = self.subject.currentText().strip()
        if data not in (None, ANY) and text == self.subject.itemText(self.subject.currentIndex()):
            subject = str(data)
        elif text and text != self.subject.itemText(0):
            subject_prefix = text
        actor_text = self.actor.currentText().strip()
        if actor_text and actor_text != self.actor.itemText(0):
            actor = actor_text
        action = self.action.currentData()
        actions = (str(action),) if action not in (None, ANY) else ()
        return LedgerQuery(
            subject=subject,
            subject_prefix=subject_prefix,
            actor=actor,
            actions=actions,
            since=_utc(self.since) if self.since_on.isChecked() else None,
            until=_utc(self.until, end_of_minute=True) if self.until_on.isChecked() else None,
        )

    def apply_filters(self) -> None:
        self._filter_timer.stop()
        query = self.query()
        if query != self.model.query:
            self.model.set_query(query)

    def clear_filters(self) -> None:
        for combo in (self.subject, self.actor, self.action):
            combo.blockSignals(True)
            combo.setCurrentIndex(0)
            combo.blockSignals(False)
        for box in (self.since_on, self.until_on):
            box.setChecked(False)
        self.apply_filters()

    def filter_model(self, registry: str, model: str) -> None:
        """Show only one model's events (from the Violations page or elsewhere)."""
        subject = model_subject(registry, model)
        index = self.subject.findData(subject)
        if index < 0:
            self.subject.addItem(f"{model} ({registry})", subject)
            index = self.subject.count() - 1
        self.subject.setCurrentIndex(index)
        self.apply_filters()

    def load_subjects(self) -> None:
        """Offer the cached models in the Model filter (again after a sync)."""
        portfolio = self.ctx.portfolio

        def work(_cancel: CancelToken, _progress: ProgressCallback) -> list[tuple[str, str]]:
            return portfolio.model_names()

        self.runner.run(
            work,
            key=f"audit-subjects-{id(self)}",
            on_success=self._fill_subjects,
            on_failure=lambda exc: log.info("model list unavailable: %s", exc.message),
        )

    def _fill_subjects(self, models: list[tuple[str, str]]) -> None:
        current = self.subject.currentText()
        self.subject.blockSignals(True)
        # One pass over what the box holds: findData per model is quadratic, and this
        # runs on the GUI thread after every sync.
        held = {self.subject.itemData(i) for i in range(self.subject.count())}
        for registry, name in models:
            subject = model_subject(registry, name)
            if subject not in held:
                held.add(subject)
                self.subject.addItem(f"{name} ({registry})", subject)
        self.subject.setCurrentText(current)
        self.subject.blockSignals(False)

    def _governance_changed(self) -> None:
        current = self.actor.currentText()
        self.actor.blockSignals(True)
        for user in sorted(set(self.governance.known_users()) | {"gavel-sync"}):
            if self.actor.findText(user) < 0:
                self.actor.addItem(user, user)
        self.actor.setCurrentText(current)
        self.actor.blockSignals(False)

    # -- table state ---------------------------------------------------------------------

    def _remember_selection(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        self._keep_seq = self.model.seq_at(rows[0].row()) if rows else self._keep_seq

    def _index_loaded(self) -> None:
        self._update_state()
        seq, self._jump_seq = self._jump_seq, None
        if seq is not None:
            self.select_seq(seq)
        elif self._keep_seq is not None:
            keep, self._keep_seq = self._keep_seq, None
            self.select_seq(keep, scroll=False)

    def _update_state(self) -> None:
        n = self.model.total
        filtered = self.model.query != LedgerQuery()
        if self.model.loading and n == 0:
            self.count_label.setText("Reading the ledger…")
        else:
            noun = "event" if n == 1 else "events"
            self.count_label.setText(f"{n:,} {noun}{' match the filters' if filtered else ''}")
        if n > 0:
            self.stack.setCurrentWidget(self.table)
            return
        if self.model.loading:
            self.stack.setCurrentWidget(self.empty)
            self.empty.set_content("Reading the audit ledger…", "")
        elif filtered:
            self.stack.setCurrentWidget(self.empty)
            self.empty.set_content(
                "No events match these filters",
                "Widen the time range or clear a filter.",
                [("Clear filters", self.clear_filters)],
            )
        else:
            self.stack.setCurrentWidget(self.empty)
            self.empty.set_content(
                "The audit ledger is empty",
                "Every decision, role change and alias move Gavel sees is recorded here, "
                "hash-chained so that any later change is detectable.",
            )

    def select_seq(self, seq: int, scroll: bool = True) -> bool:
        row = self.model.row_of_seq(seq)
        exact = row is not None
        if row is None:
            row = self.model.row_of_seq(seq, nearest=True)
        if row is None:
            return False
        index = self.model.index(row, 0)
        self.table.selectionModel().setCurrentIndex(
            index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        if scroll:
            self.table.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        return exact

    @property
    def selected_seq(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.seq_at(rows[0].row()) if rows else None

    def jump_to(self, seq: int) -> None:
        """Select an event; clears the filters first when they hide it."""
        if not self.model.loading and self.model.row_of_seq(seq) is not None:
            self.select_seq(seq)
            return
        # Selected once the index is (re)loaded: the nearest row if the event is gone.
        self._jump_seq = seq
        if self.model.query != LedgerQuery():
            self.clear_filters()
        elif not self.model.loading:
            self.model.reload()  # it may be newer than what the table holds

    def jump_to_problem(self) -> None:
        if self.report is not None and self.report.problem is not None:
            self.jump_to(self.report.problem.seq)

    def _show_failure(self, text: str) -> None:
        self.result.set_kind("error", "error")
        self.copy_button.hide()
        self.jump_button.hide()
        self.result.show_text(text)
        self._update_state()

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
        audit = self.ctx.audit

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
        problem = report.problem
        self.model.set_problem(problem.seq if problem else None, problem.message if problem else "")
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

    # -- export --------------------------------------------------------------------------

    def export(self) -> None:
        if self._busy():
            return
        chosen = self.choose_export(self)
        if chosen is None:
            return
        path, fmt = chosen
        audit = self.ctx.audit
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
        self._show_failure(f"{what} failed: {exc.message}")

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


def _utc(edit: QDateTimeEdit, end_of_minute: bool = False) -> datetime:
    when = datetime.fromtimestamp(edit.dateTime().toSecsSinceEpoch(), tz=UTC)
    return when + timedelta(seconds=59, microseconds=999_999) if end_of_minute else when
