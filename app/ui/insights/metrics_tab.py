"""The Metrics tab: a metric across the model's versions, and its history in the run
behind the selected version (by step or by time)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.domain.performance import (
    HistoryAxis,
    ModelMetrics,
    metric_across_versions,
    metric_unit,
)
from app.ui.common.charts.canvas import ChartCanvas
from app.ui.common.signals import emit
from app.ui.common.widgets import muted_label
from app.ui.insights.performance_charts import (
    HistorySeries,
    MetricHistoryChart,
    MetricsAcrossVersionsChart,
)


class MetricsTab(QWidget):
    metric_changed = Signal(str)  # the across-versions metric
    history_metric_changed = Signal(str)  # the user picked another history metric

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.metrics: ModelMetrics | None = None
        self.metric_picker = QComboBox()
        self.metric_picker.setObjectName("MetricPicker")
        self.metric_picker.setMinimumContentsLength(18)
        self.metric_picker.setToolTip("The metric both charts show")
        self.unit = muted_label()
        self.unit.setWordWrap(False)
        self.history_metric = QComboBox()
        self.history_metric.setObjectName("HistoryMetricPicker")
        self.history_metric.setMinimumContentsLength(14)
        self.history_metric.setToolTip(
            "Metrics the run logged at several steps (a metric logged once has no history)"
        )
        self.by_step = QRadioButton("by step")
        self.by_time = QRadioButton("by time")
        self.by_step.setChecked(True)
        self.axis_group = QButtonGroup(self)
        self.axis_group.addButton(self.by_step)
        self.axis_group.addButton(self.by_time)
        self.export_versions = QPushButton("Export chart…")
        self.export_versions.setToolTip("Save the across-versions chart as a PNG image")
        self.export_history = QPushButton("Export history…")
        self.export_history.setToolTip("Save the training-history chart as a PNG image")

        # One row per chart: in a single row the controls alone needed ~1,040 px and
        # pushed the window past 1024 wide (and the sidebar down to "…").
        across_row = QHBoxLayout()
        across_row.addWidget(QLabel("Metric"))
        across_row.addWidget(self.metric_picker)
        across_row.addWidget(self.unit)
        across_row.addStretch(1)
        across_row.addWidget(self.export_versions)
        history_row = QHBoxLayout()
        history_row.addWidget(QLabel("Training history of"))
        history_row.addWidget(self.history_metric)
        history_row.addWidget(self.by_step)
        history_row.addWidget(self.by_time)
        history_row.addStretch(1)
        history_row.addWidget(self.export_history)
        controls = QVBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        controls.setSpacing(2)
        controls.addLayout(across_row)
        controls.addLayout(history_row)

        self.across = MetricsAcrossVersionsChart()
        self.history = MetricHistoryChart()
        self.across.show_message("Loading metrics…")
        self.history.show_message("Loading history…")
        charts = QSplitter(Qt.Orientation.Horizontal)
        charts.setObjectName("MetricsSplitter")
        charts.addWidget(self.across)
        charts.addWidget(self.history)
        charts.setChildrenCollapsible(False)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 4, 0, 0)
        lay.addLayout(controls)
        lay.addWidget(charts, 1)

        self.metric_picker.currentTextChanged.connect(self._metric_changed)
        self.history_metric.activated.connect(
            lambda _i: emit(self.history_metric_changed, self.history_metric.currentText())
        )
        self.by_step.toggled.connect(self._axis_changed)
        self.export_versions.clicked.connect(lambda: self._export(self.across, "metric"))
        self.export_history.clicked.connect(lambda: self._export(self.history, "history"))

    @property
    def axis(self) -> HistoryAxis:
        return HistoryAxis.STEP if self.by_step.isChecked() else HistoryAxis.TIME

    @property
    def current_metric(self) -> str:
        return self.metric_picker.currentText()

    @property
    def current_history_metric(self) -> str:
        return self.history_metric.currentText()

    def set_model_metrics(self, metrics: ModelMetrics) -> None:
        """New model (or reloaded): keep the chosen metric when the model logs it too."""
        self.metrics = metrics
        keys = metrics.metric_keys
        keep = self.metric_picker.currentText()
        self.metric_picker.blockSignals(True)
        self.metric_picker.clear()
        self.metric_picker.addItems(keys)
        if keep in keys:
            self.metric_picker.setCurrentText(keep)
        self.metric_picker.blockSignals(False)
        if not keys:
            self.across.show_message(
                f"No version of {metrics.model} has metrics in the cache",
                "The runs behind its versions logged none, or they are not synced yet.",
            )
            self.history.show_message("No metrics to show")
            self.unit.setText("")
            return
        self._show_across()
        emit(self.metric_changed, self.metric_picker.currentText())

    def set_history(self, keys: list[str], key: str, series: list[HistorySeries]) -> None:
        """The run's metrics that have a history, the one shown, and its series."""
        self.history_metric.blockSignals(True)
        self.history_metric.clear()
        self.history_metric.addItems(keys)
        self.history_metric.setCurrentText(key)
        self.history_metric.blockSignals(False)
        self.history_metric.setEnabled(bool(keys))
        if not keys:
            self.history.show_message(
                "No training history in the cache",
                "This version's run logged each metric once (or is not synced), so there is "
                "no curve to draw.",
            )
            return
        self.history.set_data(key, series, self.axis)

    def show_message(self, title: str, text: str = "") -> None:
        self.across.show_message(title, text)
        self.history.show_message("")

    def _show_across(self) -> None:
        key = self.metric_picker.currentText()
        if self.metrics is None or not key:
            return
        self.unit.setText(metric_unit(key))
        self.across.set_data(metric_across_versions(self.metrics, key))

    def _metric_changed(self, key: str) -> None:
        if not key:
            return
        self._show_across()
        emit(self.metric_changed, key)

    def _axis_changed(self) -> None:
        self.history.set_axis(self.axis)

    def _export(self, chart: ChartCanvas, what: str) -> None:
        key = self.current_history_metric if chart is self.history else self.current_metric
        name = f"{self.metrics.model if self.metrics else 'model'}-{key}-{what}.png"
        path, _ = QFileDialog.getSaveFileName(self, "Export chart as PNG", name, "PNG (*.png)")
        if path:
            chart.export_png(Path(path))
