"""Add or edit a serving endpoint; 'Probe now' saves it and probes it in the background."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.cancel import CancelToken
from app.domain.endpoints import DEFAULT_TIMEOUT_S, EndpointConfig, EndpointKind, parse_version_map
from app.domain.errors import GavelError, UsageError
from app.domain.progress import ProgressCallback
from app.domain.serving import ServingState
from app.services.endpoints import EndpointService, ProbeOutcome
from app.services.portfolio import PortfolioService
from app.ui.common.tasks import TaskHandle, TaskRunner
from app.ui.common.widgets import error_label

_KINDS = (
    (EndpointKind.OIP, "Open Inference Protocol (MLServer, KServe, Triton)"),
    (EndpointKind.MLFLOW, "MLflow scoring server (mlflow models serve)"),
)


def outcome_text(o: ProbeOutcome) -> tuple[str, str]:
    """(kind, text) for the result box: success only when up and serving what is approved."""
    obs, sv = o.observation, o.serving
    lines = [f"Health: {obs.health.value.replace('_', ' ')} — {obs.reason}"]
    if obs.metrics_reason:
        lines.append(f"Metrics: {obs.metrics_reason}")
    lines.append(f"Serving: {sv.state.value.upper()} — {sv.reason}")
    ok = obs.up and sv.state is ServingState.MATCH
    return ("success" if ok else "failure"), "\n".join(lines)


class EndpointDialog(QDialog):
    """Add (cfg None) or edit an endpoint; saves through EndpointService."""

    def __init__(
        self,
        endpoints: EndpointService,
        portfolio: PortfolioService,
        registries: list[str],
        runner: TaskRunner,
        cfg: EndpointConfig | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._endpoints = endpoints
        self._portfolio = portfolio
        self._runner = runner
        self._original = cfg
        self._probe: TaskHandle | None = None
        self.saved: EndpointConfig | None = None
        self.probed: ProbeOutcome | None = None
        self.setWindowTitle(f"Edit endpoint “{cfg.name}”" if cfg else "Add a serving endpoint")
        self.setMinimumWidth(560)

        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. mortgage-prod")
        self.kind = QComboBox()
        for kind, label in _KINDS:
            self.kind.addItem(label, kind.value)
        self.url = QLineEdit()
        self.url.setPlaceholderText("http://serving.example.com:8080")
        self.metrics_url = QLineEdit()
        self.metrics_url.setPlaceholderText("optional: http://serving.example.com:8082/metrics")
        self.registry = QComboBox()
        self.registry.addItems(registries)
        self.model = QComboBox()
        self.model.setEditable(True)
        self.model.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.alias = QComboBox()
        self.alias.setEditable(True)
        self.alias.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.alias.setEditText("production")
        self.alias.setMinimumContentsLength(16)
        self.version_map = QLineEdit()
        self.version_map.setPlaceholderText(
            "optional: v1=3, blue=2 (what the server reports = version)"
        )
        self.served_model = QLineEdit()
        self.served_model.setPlaceholderText(
            "for servers that do not say: runs:/<run id>/model, models:/<name>/<n> or m-<id>"
        )
        self.interval = QDoubleSpinBox()
        self.interval.setRange(0.0, 86_400.0)
        self.interval.setDecimals(0)
        self.interval.setSuffix(" s")
        self.interval.setSpecialValueText("the global interval")
        self.timeout = QDoubleSpinBox()
        self.timeout.setRange(1.0, 300.0)
        self.timeout.setDecimals(0)
        self.timeout.setSuffix(" s")
        self.timeout.setValue(DEFAULT_TIMEOUT_S)

        model_row = QHBoxLayout()
        model_row.addWidget(self.registry)
        model_row.addWidget(QLabel("/"))
        model_row.addWidget(self.model, 1)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.addRow("Name", self.name)
        form.addRow("Kind", self.kind)
        form.addRow("URL", self.url)
        form.addRow("Metrics URL", self.metrics_url)
        form.addRow("Model", model_row)
        form.addRow("Alias", self.alias)
        form.addRow("Version map", self.version_map)
        form.addRow("Deployed from", self.served_model)
        form.addRow("Poll every", self.interval)
        form.addRow("Probe timeout", self.timeout)
        hint = QLabel(
            "The endpoint is expected to serve the version its alias points to. Gavel "
            "records a drift in the audit trail when it serves another one."
        )
        hint.setObjectName("Muted")
        hint.setWordWrap(True)

        self.error = error_label()
        self.probe_button = QPushButton("Probe now")
        self.probe_button.setToolTip("Save the endpoint, then probe it once")
        self.result_label = QLabel()
        self.result_label.setObjectName("ConnectionResult")
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result_label.hide()
        probe_row = QHBoxLayout()
        probe_row.addWidget(self.probe_button)
        probe_row.addStretch(1)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )

        layout = QVBoxLayout(self)
        layout.addWidget(hint)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addLayout(probe_row)
        layout.addWidget(self.result_label)
        layout.addStretch(1)
        layout.addWidget(self.buttons)

        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self.probe_button.clicked.connect(self.probe_now)
        self.registry.currentTextChanged.connect(self._load_models)
        self.model.currentTextChanged.connect(self._load_aliases)
        self.finished.connect(self._drop_probe)
        if cfg is not None:
            self._load(cfg)
        self._load_models(self.registry.currentText())

    # -- form ----------------------------------------------------------------------------

    def _load(self, cfg: EndpointConfig) -> None:
        self.name.setText(cfg.name)
        self.kind.setCurrentIndex(max(0, self.kind.findData(cfg.kind.value)))
        self.url.setText(cfg.url)
        self.metrics_url.setText(cfg.metrics_url)
        if self.registry.findText(cfg.registry) < 0:
            self.registry.addItem(cfg.registry)
        self.registry.setCurrentText(cfg.registry)
        self.model.setEditText(cfg.model)
        self.alias.setEditText(cfg.alias)
        self.version_map.setText(", ".join(f"{k}={v}" for k, v in cfg.version_map.items()))
        self.served_model.setText(cfg.served_model)
        self.interval.setValue(cfg.interval_s or 0.0)
        self.timeout.setValue(cfg.timeout_s)

    def _load_models(self, registry: str) -> None:
        if not registry:
            return
        portfolio, typed = self._portfolio, self.model.currentText()

        def names(_cancel: CancelToken, _progress: ProgressCallback) -> list[str]:
            return [name for _registry, name in portfolio.model_names(registry)]

        def fill(found: list[str]) -> None:
            self.model.blockSignals(True)
            self.model.clear()
            self.model.addItems(found)
            self.model.setEditText(typed or (found[0] if found else ""))
            self.model.blockSignals(False)
            self._load_aliases(self.model.currentText())

        self._runner.run(names, key=f"endpoint-dialog-models-{id(self)}", on_success=fill)

    def _load_aliases(self, model: str) -> None:
        typed = self.alias.currentText()
        try:
            aliases = sorted(self._portfolio.find_model(model, self.registry.currentText()).aliases)
        except GavelError:
            aliases = []
        self.alias.blockSignals(True)
        self.alias.clear()
        self.alias.addItems(aliases)
        self.alias.setEditText(typed or (aliases[0] if aliases else "production"))
        self.alias.blockSignals(False)

    def config(self) -> EndpointConfig:
        """The endpoint as typed; UsageError with a sentence when something is wrong."""
        kind = EndpointKind(self.kind.currentData())
        base = self._original or EndpointConfig(
            name=self.name.text().strip() or "x",
            kind=kind,
            url="http://x",
            registry=self.registry.currentText() or "x",
            model="x",
            alias="x",
        )
        interval = self.interval.value()
        return replace(
            base,
            name=self.name.text().strip(),
            kind=kind,
            url=self.url.text().strip(),
            metrics_url=self.metrics_url.text().strip(),
            registry=self.registry.currentText().strip(),
            model=self.model.currentText().strip(),
            alias=self.alias.currentText().strip(),
            version_map=parse_version_map([self.version_map.text()])
            if self.version_map.text().strip()
            else {},
            served_model=self.served_model.text().strip(),
            interval_s=interval if interval > 0 else None,
            timeout_s=self.timeout.value(),
        )

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()

    def _store(self) -> EndpointConfig | None:
        """Validate and save (add, or update under the original name); None on error."""
        self.error.hide()
        try:
            cfg = self.config()
            if not cfg.registry:
                raise UsageError("Pick the registry of the model the endpoint serves.")
            if self._original is None:
                self._endpoints.add(cfg)
            elif cfg != self._original:
                self._endpoints.update(self._original.name, cfg)
        except GavelError as exc:
            self.show_error(exc.message)
            return None
        # Saved: from now on this dialog edits what it saved.
        self._original = self.saved = cfg
        self.setWindowTitle(f"Edit endpoint “{cfg.name}”")
        return cfg

    def save(self) -> None:
        if self._store() is not None:
            self.accept()

    # -- probe ---------------------------------------------------------------------------

    def probe_now(self) -> None:
        cfg = self._store()
        if cfg is None:
            return
        svc, name = self._endpoints, cfg.name

        def probe(_cancel: CancelToken, _progress: ProgressCallback) -> ProbeOutcome:
            return svc.probe(name)

        self._set_result("pending", f"Probing {cfg.url}…")
        self.probe_button.setEnabled(False)
        self._probe = self._runner.run(
            probe,
            key=f"endpoint-dialog-probe-{id(self)}",
            label="Probing endpoint",
            on_success=self._probed,
            on_failure=lambda exc: self._finish_probe("failure", exc.message),
        )

    def _probed(self, outcome: ProbeOutcome) -> None:
        self.probed = outcome
        self._finish_probe(*outcome_text(outcome))

    def _finish_probe(self, kind: str, text: str) -> None:
        self._probe = None
        self.probe_button.setEnabled(True)
        self._set_result(kind, text)

    def _set_result(self, kind: str, text: str) -> None:
        self.result_label.setProperty("kind", kind)
        prefix = {"success": "✓ ", "failure": "✗ "}.get(kind, "")
        self.result_label.setText(prefix + text)
        self.result_label.style().unpolish(self.result_label)
        self.result_label.style().polish(self.result_label)
        self.result_label.show()

    @property
    def result_kind(self) -> str:
        return str(self.result_label.property("kind")) if self.result_label.isVisible() else ""

    def _drop_probe(self) -> None:
        if self._probe is not None:
            self._runner.discard(self._probe)
            self._probe = None
