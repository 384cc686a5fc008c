"""The Compare tab: two versions side by side — parameters that differ, every metric
with its change, the datasets that differ — as tables and a chart."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.domain.performance import DatasetChange, VersionComparison
from app.domain.portfolio import VersionRow
from app.presentation.formatting import version_label
from app.ui.common.signals import emit
from app.ui.common.theme import semantic
from app.ui.common.widgets import muted_label
from app.ui.insights.performance_charts import ComparisonChart, format_value

_CHANGE_TEXT = {
    DatasetChange.SAME: "same data",
    DatasetChange.CHANGED: "different data (digest changed)",
    DatasetChange.ONLY_A: "only in A",
    DatasetChange.ONLY_B: "only in B",
}


def _table(headers: Sequence[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setAlternatingRowColors(True)
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(22)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    return table


def _fill(table: QTableWidget, rows: Sequence[Sequence[tuple[str, QColor | None]]]) -> None:
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, (text, color) in enumerate(row):
            item = QTableWidgetItem(text)
            item.setToolTip(text)
            if color is not None:
                item.setForeground(color)
            table.setItem(r, c, item)


class CompareTab(QWidget):
    pair_changed = Signal(int, int)  # version a, version b

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.comparison: VersionComparison | None = None
        self.version_a = QComboBox()
        self.version_b = QComboBox()
        for combo in (self.version_a, self.version_b):
            combo.setMinimumContentsLength(14)
        self.swap = QPushButton("Swap")
        self.export = QPushButton("Export chart…")
        self.summary = muted_label()
        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addWidget(QLabel("Compare"))
        controls.addWidget(self.version_a)
        controls.addWidget(QLabel("(A) with"))
        controls.addWidget(self.version_b)
        controls.addWidget(QLabel("(B)"))
        controls.addWidget(self.swap)
        controls.addStretch(1)
        controls.addWidget(self.export)

        self.tables = QTabWidget()
        self.params = _table(["Parameter", "A", "B"])
        self.metrics = _table(["Metric", "A", "B", "Change (B − A)"])
        self.datasets = _table(["Dataset", "Used as", "Digest A", "Digest B", "Difference"])
        self.tables.addTab(self.metrics, "Metrics")
        self.tables.addTab(self.params, "Parameters that differ")
        self.tables.addTab(self.datasets, "Datasets")
        self.chart = ComparisonChart()
        self.chart.show_message("Pick two versions to compare")
        split = QSplitter(Qt.Orientation.Horizontal)
        split.setObjectName("CompareSplitter")
        left = QWidget()
        left_lay = QVBoxLayout(left)
        left_lay.setContentsMargins(0, 0, 0, 0)
        left_lay.addWidget(self.summary)
        left_lay.addWidget(self.tables, 1)
        split.addWidget(left)
        split.addWidget(self.chart)
        split.setChildrenCollapsible(False)
        split.setSizes([460, 540])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 4, 0, 0)
        lay.addLayout(controls)
        lay.addWidget(split, 1)

        self.version_a.currentIndexChanged.connect(self._pair_changed)
        self.version_b.currentIndexChanged.connect(self._pair_changed)
        self.swap.clicked.connect(self._swap)
        self.export.clicked.connect(self._export)

    @property
    def pair(self) -> tuple[int, int] | None:
        a, b = self.version_a.currentData(), self.version_b.currentData()
        return (int(a), int(b)) if a is not None and b is not None else None

    def set_versions(self, versions: Sequence[VersionRow], a: int | None, b: int | None) -> None:
        """Fill both pickers (newest first) and select a and b without emitting twice."""
        for combo, pick in ((self.version_a, a), (self.version_b, b)):
            combo.blockSignals(True)
            combo.clear()
            for v in versions:
                combo.addItem(version_label(v), v.version)
            index = combo.findData(pick) if pick is not None else -1
            combo.setCurrentIndex(max(index, 0) if versions else -1)
            combo.blockSignals(False)
        if len(versions) < 2:
            self.show_message(
                "Only one version to compare",
                "Compare shows what changed between two versions of a model.",
            )
            return
        self._pair_changed()

    def show_message(self, title: str, text: str = "") -> None:
        self.comparison = None
        self.summary.setText(title)
        for table in (self.params, self.metrics, self.datasets):
            table.setRowCount(0)
        self.chart.show_message(title, text)

    def show_comparison(self, c: VersionComparison) -> None:
        if self.pair != (c.version_a, c.version_b):
            return  # the pickers moved on while this was loading
        self.comparison = c
        a, b = f"v{c.version_a}", f"v{c.version_b}"
        changed = len(c.datasets_differ)
        n = len(c.params)
        bits = [
            f"{n} parameter{' differs' if n == 1 else 's differ'} ({c.same_params} the same)",
            f"{changed} dataset{' differs' if changed == 1 else 's differ'}"
            if changed
            else "same datasets",
        ]
        self.summary.setText(
            f"{a} (A) against {b} (B): " + ", ".join(bits) + ". " + " ".join(c.notes)
        )
        _fill(
            self.params, [[(p.key, None), (p.a or "—", None), (p.b or "—", None)] for p in c.params]
        )
        sem = semantic(self.palette())
        good, bad = QColor(sem.ok), QColor(sem.error)
        rows = []
        for m in c.metrics:
            d = m.delta
            color = None if m.improved is None else (good if m.improved else bad)
            change = (
                "—"
                if d is None
                else f"{d:+.4g}" + ("" if not m.a else f" ({100 * d / abs(m.a):+.1f} %)")
            )
            rows.append(
                [
                    (m.key, None),
                    ("—" if m.a is None else format_value(m.a), None),
                    ("—" if m.b is None else format_value(m.b), None),
                    (change, color),
                ]
            )
        _fill(self.metrics, rows)
        _fill(
            self.datasets,
            [
                [
                    (d.name, None),
                    (d.context, None),
                    (d.digest_a or "—", None),
                    (d.digest_b or "—", None),
                    (_CHANGE_TEXT[d.change], bad if d.change is not DatasetChange.SAME else None),
                ]
                for d in c.datasets
            ],
        )
        self.tables.setTabText(0, f"Metrics ({len(c.metrics)})")
        self.tables.setTabText(1, f"Parameters that differ ({len(c.params)})")
        self.tables.setTabText(2, f"Datasets ({changed} differ)")
        self.chart.set_data(c)

    def _pair_changed(self) -> None:
        pair = self.pair
        if pair is None:
            return
        if pair[0] == pair[1]:
            self.show_message("Pick two different versions", "A and B are the same version.")
            return
        self.summary.setText("Comparing…")
        emit(self.pair_changed, *pair)

    def _swap(self) -> None:
        pair = self.pair
        if pair is None:
            return
        self.version_a.blockSignals(True)
        self.version_a.setCurrentIndex(self.version_a.findData(pair[1]))
        self.version_a.blockSignals(False)
        self.version_b.setCurrentIndex(self.version_b.findData(pair[0]))

    def _export(self) -> None:
        pair = self.pair
        name = f"compare-v{pair[0]}-v{pair[1]}.png" if pair else "compare.png"
        path, _ = QFileDialog.getSaveFileName(self, "Export chart as PNG", name, "PNG (*.png)")
        if path:
            self.chart.export_png(Path(path))
