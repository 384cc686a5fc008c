"""The Audit trail page: the whole ledger (lazy), filters applied in SQL, and the
ledger checks (verify, export) above it. Everything that touches the ledger runs in
a worker.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QDateTime, QItemSelectionModel, Qt, QTimer, QTimeZone, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.domain.cancel import CancelToken
from app.domain.ledger import LedgerAction, LedgerEvent, VerifyReport
from app.domain.ledger_query import LedgerQuery, model_subject
from app.domain.progress import ProgressCallback
from app.presentation.ledger_text import ACTION_LABELS
from app.ui.audit.audit_model import AuditColumn, AuditTrailModel
from app.ui.audit.governance_feed import GovernanceFeed
from app.ui.audit.ledger_checks import LedgerChecks
from app.ui.common.context import ConsoleContext
from app.ui.common.signals import emit
from app.ui.common.sort_arrows import point_sort_arrows_the_way_rows_run
from app.ui.common.tasks import TaskRunner
from app.ui.common.widgets import EmptyState, row_table

log = logging.getLogger("gavel.ui.audit")

FILTER_DELAY_MS = 250
ANY = "__any__"


class AuditTrailPage(QWidget):
    message = Signal(str)
    # An auditor's finding about the selected event (the Findings page signs it).
    finding_requested = Signal(object)  # LedgerEvent
    # The selected event changed (its seq, or None): features say what they hold on it.
    event_selected = Signal(object)

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
        self._jump_seq: int | None = None
        self._keep_seq: int | None = None
        self._shown_seq: int | None = None

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
        # Two rows (who and what; when): in one row the filters alone made the page, and
        # so the whole window, at least 1,245 px wide.
        self.action.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.action.setMinimumContentsLength(18)
        filters = QVBoxLayout()
        who = QHBoxLayout()
        for widget in (QLabel("Model"), self.subject, QLabel("Actor"), self.actor):
            who.addWidget(widget)
        who.addStretch(1)
        when = QHBoxLayout()
        when_widgets: tuple[QWidget, ...] = (
            QLabel("Action"),
            self.action,
            self.since_on,
            self.since,
            self.until_on,
            self.until,
            self.clear_button,
        )
        for item in when_widgets:
            when.addWidget(item)
        when.addStretch(1)
        filters.addLayout(who)
        filters.addLayout(when)

        # -- verify and export, and the count of events shown
        self.checks = LedgerChecks(ctx.audit, runner, governance)
        self.count_label = QLabel()
        self.count_label.setObjectName("Muted")
        self.checks.tools.addWidget(self.count_label)
        # Open findings about the selected event, and recording one.
        self.findings_line = QLabel()
        self.findings_line.setObjectName("FindingsLine")
        self.finding_button = QPushButton("Record finding about this event…")
        self.finding_button.setToolTip(
            "Sign an auditor's finding about the selected ledger event (kept in your profile "
            "until it is exported and imported into the ledger)"
        )
        self.finding_button.setEnabled(False)
        self.finding_button.clicked.connect(self._request_finding)
        finding_row = QHBoxLayout()
        finding_row.addWidget(self.findings_line)
        finding_row.addStretch(1)
        finding_row.addWidget(self.finding_button)

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
        # Newest first: descending, and the arrow says so (▼, not Qt's ▲).
        point_sort_arrows_the_way_rows_run(header)
        header.setSortIndicator(AuditColumn.SEQ, Qt.SortOrder.DescendingOrder)
        self.table.setSortingEnabled(True)
        self.empty = EmptyState()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(filters)
        layout.addWidget(self.checks)
        layout.addWidget(self.stack, 1)
        layout.addLayout(finding_row)

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

        self.table.selectionModel().selectionChanged.connect(lambda *_a: self._event_changed())
        self.model.modelReset.connect(self._event_changed)
        self.model.dataChanged.connect(lambda *_a: self._event_changed())
        self.model.loading_changed.connect(lambda _=False: self._update_state())
        self.model.modelAboutToBeReset.connect(self._remember_selection)
        self.model.index_loaded.connect(self._index_loaded)
        self.model.load_failed.connect(self._show_failure)
        self.checks.message.connect(lambda text: emit(self.message, text))
        self.checks.verified.connect(self._verified)
        self.checks.jump_requested.connect(self.jump_to)
        governance.on_change(self._governance_changed)
        # After every sync, write or periodic refresh: new events are inserted on top.
        governance.on_change(self.model.reload)
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
    def selected_event(self) -> LedgerEvent | None:
        rows = self.table.selectionModel().selectedRows()
        event = self.model.event_at(rows[0].row()) if rows else None
        return event if isinstance(event, LedgerEvent) else None

    def _event_changed(self) -> None:
        event = self.selected_event
        self.finding_button.setEnabled(event is not None)
        seq = None if event is None else event.seq
        if seq != self._shown_seq:
            self._shown_seq = seq
            emit(self.event_selected, seq)

    def _request_finding(self) -> None:
        event = self.selected_event
        if event is not None:
            emit(self.finding_requested, event)

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

    def _verified(self, report: VerifyReport) -> None:
        problem = report.problem
        self.model.set_problem(problem.seq if problem else None, problem.message if problem else "")

    def _show_failure(self, text: str) -> None:
        self.checks.show_failure(text)
        self._update_state()


def _utc(edit: QDateTimeEdit, end_of_minute: bool = False) -> datetime:
    when = datetime.fromtimestamp(edit.dateTime().toSecsSinceEpoch(), tz=UTC)
    return when + timedelta(seconds=59, microseconds=999_999) if end_of_minute else when
