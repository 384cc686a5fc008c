"""The run behind a model version: its metrics, parameters and dataset inputs."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.domain.portfolio import RunDetail, VersionRow
from app.presentation.formatting import from_ms, local_text, utc_text
from app.ui.common.widgets import EmptyState, muted_label


def _table(headers: Sequence[str], stretch: int) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(24)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setStretchLastSection(False)
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    return table


def _fill(table: QTableWidget, rows: Sequence[Sequence[str]], tips: Sequence[str] = ()) -> None:
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            item = QTableWidgetItem(text)
            item.setToolTip(tips[r] if r < len(tips) and tips[r] else text)
            table.setItem(r, c, item)
    header = table.horizontalHeader()
    for c in range(table.columnCount()):
        if header.sectionResizeMode(c) != QHeaderView.ResizeMode.Stretch:
            table.resizeColumnToContents(c)
            # Long values (paths, digests) must not push other columns off screen.
            table.setColumnWidth(c, min(table.columnWidth(c), 260))


def format_metric(value: float) -> str:
    if value != value:  # NaN
        return "NaN"
    if value == int(value) and abs(value) < 1e12:
        return f"{int(value)}"
    return f"{value:.6g}"


def _duration(start: int | None, end: int | None) -> str:
    if start is None or end is None or end < start:
        return ""
    seconds = (end - start) // 1000
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


class RunPanel(QStackedWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.empty = EmptyState()
        self.addWidget(self.empty)

        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel()
        self.title.setObjectName("SectionTitle")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.meta = muted_label()
        self.meta.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.title)
        layout.addWidget(self.meta)
        self.tabs = QTabWidget()
        self.metrics = _table(["Metric", "Latest value", "Step"], stretch=0)
        self.params = _table(["Parameter", "Value"], stretch=1)
        self.datasets = _table(["Dataset", "Context", "Digest", "Source"], stretch=3)
        self.tabs.addTab(self.metrics, "Metrics")
        self.tabs.addTab(self.params, "Parameters")
        self.tabs.addTab(self.datasets, "Datasets")
        layout.addWidget(self.tabs, 1)
        self.addWidget(page)
        self._page = page
        self.show_nothing()

    @property
    def showing_run(self) -> bool:
        return self.currentWidget() is self._page

    def show_nothing(self) -> None:
        self.empty.set_content(
            "No version selected",
            "Select a version to see the run that produced it: its metrics, parameters "
            "and the datasets it was trained and evaluated on.",
        )
        self.setCurrentWidget(self.empty)

    def show_no_run(self, version: VersionRow) -> None:
        source = f" Its source is {version.source}." if version.source else ""
        self.empty.set_content(
            f"v{version.version} has no tracked run",
            f"This version was registered without an MLflow run, so there are no "
            f"metrics, parameters or datasets to show.{source}",
        )
        self.setCurrentWidget(self.empty)

    def show_run_missing(self, version: VersionRow) -> None:
        self.empty.set_content(
            f"The run behind v{version.version} is not in the cache",
            f"Run {version.run_id} has not been fetched. Press F5 to sync; if it stays "
            "missing, the run was deleted or is in an experiment you cannot read.",
        )
        self.setCurrentWidget(self.empty)

    def show_run(self, version: VersionRow, run: RunDetail) -> None:
        name = f" “{run.run_name}”" if run.run_name else ""
        self.title.setText(f"Run{name} behind v{version.version}")
        parts = [run.status.capitalize() if run.status else "Unknown status"]
        if run.user_id:
            parts.append(f"by {run.user_id}")
        started = from_ms(run.start_time)
        if started is not None:
            parts.append(f"started {local_text(started)}")
        took = _duration(run.start_time, run.end_time)
        if took:
            parts.append(f"took {took}")
        self.meta.setText(" · ".join(parts) + f"\nRun id {run.run_id}")
        if started is not None:
            self.meta.setToolTip(f"Started {utc_text(started)}")

        metrics = sorted(run.metrics.values(), key=lambda m: m.key)
        _fill(self.metrics, [(m.key, format_metric(m.value), str(m.step)) for m in metrics])
        _fill(self.params, [(k, v) for k, v in sorted(run.params.items())])
        _fill(
            self.datasets,
            [(d.name, d.context, d.digest, d.source or d.source_type) for d in run.datasets],
            [f"{d.source_type}: {d.source}" if d.source else d.source_type for d in run.datasets],
        )
        self.tabs.setTabText(0, f"Metrics ({len(metrics)})")
        self.tabs.setTabText(1, f"Parameters ({len(run.params)})")
        self.tabs.setTabText(2, f"Datasets ({len(run.datasets)})")
        self.setCurrentWidget(self._page)
