"""The endpoints table: health, the version served against the approved one, last probe.

A small in-memory list (endpoints are configured by hand, a few dozen at most);
probe outcomes from the poller update one row in place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QIcon

from app.domain.endpoints import EndpointRecord, HealthState
from app.domain.serving import ServingState
from app.presentation.formatting import relative_time, utc_text
from app.services.endpoints import EndpointStatus, ProbeOutcome
from app.ui.common.resources import dot_icon
from app.ui.common.row_list_model import TitledTableModel
from app.ui.common.signals import emit
from app.ui.common.theme import semantic

AnyIndex = QModelIndex | QPersistentModelIndex

ENDPOINT_NAME_ROLE = Qt.ItemDataRole.UserRole + 1


class EndpointColumn(IntEnum):
    NAME = 0
    MODEL = 1
    HEALTH = 2
    SERVING = 3
    SERVED = 4
    APPROVED = 5
    LAST_PROBE = 6
    URL = 7


_TITLES = {
    EndpointColumn.NAME: "Endpoint",
    EndpointColumn.MODEL: "Model @ alias",
    EndpointColumn.HEALTH: "Health",
    EndpointColumn.SERVING: "Serving",
    EndpointColumn.SERVED: "Serves",
    EndpointColumn.APPROVED: "Approved (alias)",
    EndpointColumn.LAST_PROBE: "Last probe",
    EndpointColumn.URL: "URL",
}
_HEADER_TIPS = {
    EndpointColumn.SERVING: "Whether the endpoint serves the version its alias points to",
    EndpointColumn.SERVED: "The registry version the endpoint reports (or was deployed from)",
    EndpointColumn.APPROVED: "The version the endpoint's alias points to in the cache",
}
_HEALTH_TEXT = {
    HealthState.UP: "Up",
    HealthState.NOT_READY: "Not ready",
    HealthState.DOWN: "Down",
    HealthState.TIMEOUT: "Timed out",
    HealthState.BAD_RESPONSE: "Bad response",
}


def record_of(outcome: ProbeOutcome) -> EndpointRecord:
    """What the cache now holds for the probed endpoint, without reading it back."""
    obs, sv = outcome.observation, outcome.serving
    reason = obs.reason
    if obs.metrics_reason and obs.up:
        reason = f"{obs.reason} {obs.metrics_reason}"
    return EndpointRecord(
        name=outcome.config.name,
        last_probe_at=obs.at,
        health=obs.health,
        health_reason=reason,
        server=obs.server,
        serving_state=sv.state.value,
        serving_reason=sv.reason,
        served_versions=sv.served_versions,
        served_label=sv.served_label,
        expected_version=sv.expected_version,
        drift_key=sv.drift_key,
    )


def serving_state(record: EndpointRecord) -> ServingState | None:
    """None before the first probe."""
    if record.last_probe_at is None or not record.serving_state:
        return None
    try:
        return ServingState(record.serving_state)
    except ValueError:
        return ServingState.UNKNOWN


class EndpointsModel(TitledTableModel):
    def __init__(
        self, parent: Any = None, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        super().__init__(
            [_TITLES[c] for c in EndpointColumn],
            parent,
            tips=[_HEADER_TIPS.get(c) for c in EndpointColumn],
        )
        self._rows: list[EndpointStatus] = []
        self._clock = clock

    # -- data ----------------------------------------------------------------------------

    def set_statuses(self, statuses: Sequence[EndpointStatus]) -> None:
        self.beginResetModel()
        self._rows = sorted(statuses, key=lambda s: s.config.name.lower())
        self.endResetModel()

    def apply_outcome(self, outcome: ProbeOutcome) -> bool:
        """Show a probe's result in its row; False when the endpoint is not listed."""
        row = self.row_of(outcome.config.name)
        if row is None:
            return False
        old = self._rows[row]
        # The outcome carries the config it probed with: newer than ours if edited since.
        self._rows[row] = replace(old, record=record_of(outcome))
        self._changed(row)
        return True

    def status_at(self, row: int) -> EndpointStatus | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def statuses(self) -> list[EndpointStatus]:
        return list(self._rows)

    def row_of(self, name: str) -> int | None:
        for i, st in enumerate(self._rows):
            if st.config.name == name:
                return i
        return None

    def touch_times(self) -> None:
        if self._rows:
            col = EndpointColumn.LAST_PROBE
            emit(self.dataChanged, self.index(0, col), self.index(len(self._rows) - 1, col))

    def _changed(self, row: int) -> None:
        emit(self.dataChanged, self.index(row, 0), self.index(row, len(EndpointColumn) - 1))

    # -- Qt model interface ------------------------------------------------------------

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        st = self.status_at(index.row()) if index.isValid() else None
        if st is None:
            return None
        column = EndpointColumn(index.column())
        if role == ENDPOINT_NAME_ROLE:
            return st.config.name
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(st, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(st, column)
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._foreground(st, column)
        if role == Qt.ItemDataRole.BackgroundRole:
            if column == EndpointColumn.SERVING and serving_state(st.record) is ServingState.DRIFT:
                return QBrush(QColor(semantic().error_box[0]))
            return None
        if role == Qt.ItemDataRole.FontRole:
            if column == EndpointColumn.SERVING and serving_state(st.record) is ServingState.DRIFT:
                font = QFont()
                font.setBold(True)
                return font
            return None
        if role == Qt.ItemDataRole.DecorationRole:
            return self._decoration(st, column)
        return None

    def _display(self, st: EndpointStatus, column: EndpointColumn) -> str:
        cfg, rec = st.config, st.record
        match column:
            case EndpointColumn.NAME:
                return cfg.name
            case EndpointColumn.MODEL:
                return f"{cfg.registry}/{cfg.model} @ {cfg.alias}"
            case EndpointColumn.HEALTH:
                return "Never probed" if rec.health is None else _HEALTH_TEXT[rec.health]
            case EndpointColumn.SERVING:
                state = serving_state(rec)
                if state is None:
                    return "Not probed"
                return {
                    ServingState.MATCH: "Match",
                    ServingState.DRIFT: "DRIFT",
                    ServingState.UNKNOWN: "Unknown",
                }[state]
            case EndpointColumn.SERVED:
                return ", ".join(f"v{v}" for v in rec.served_versions) or "—"
            case EndpointColumn.APPROVED:
                if rec.expected_version is None:
                    return f"{cfg.alias} → ?"
                return f"{cfg.alias} → v{rec.expected_version}"
            case EndpointColumn.LAST_PROBE:
                if rec.last_probe_at is None:
                    return "never"
                return relative_time(rec.last_probe_at, self._clock())
            case EndpointColumn.URL:
                return cfg.url

    def _tooltip(self, st: EndpointStatus, column: EndpointColumn) -> str | None:
        cfg, rec = st.config, st.record
        match column:
            case EndpointColumn.HEALTH:
                return rec.health_reason or None
            case EndpointColumn.SERVING | EndpointColumn.SERVED | EndpointColumn.APPROVED:
                return rec.serving_reason or "Not probed yet: press “Probe now”."
            case EndpointColumn.LAST_PROBE:
                return None if rec.last_probe_at is None else utc_text(rec.last_probe_at)
            case EndpointColumn.NAME:
                server = f"\nServer: {rec.server}" if rec.server else ""
                return f"{cfg.kind.value.upper()} endpoint {cfg.name}{server}"
            case EndpointColumn.URL:
                return cfg.url + (f"\nMetrics: {cfg.metrics_url}" if cfg.metrics_url else "")
        return None

    def _foreground(self, st: EndpointStatus, column: EndpointColumn) -> QColor | None:
        rec = st.record
        # Light or dark variants, by the palette in force when the row is painted.
        sem = semantic()
        if column == EndpointColumn.HEALTH:
            if rec.health is None:
                return QColor(sem.muted)
            return QColor(sem.ok if rec.health is HealthState.UP else sem.error)
        if column == EndpointColumn.SERVING:
            state = serving_state(rec)
            if state is ServingState.DRIFT:
                # On its tinted cell background, as in the themed stylesheet's boxes.
                return QColor(sem.error_box[2])
            if state is ServingState.MATCH:
                return QColor(sem.ok)
            return QColor(sem.muted)
        if column == EndpointColumn.SERVED and serving_state(rec) is ServingState.DRIFT:
            return QColor(sem.error)
        return None

    def _decoration(self, st: EndpointStatus, column: EndpointColumn) -> QIcon | None:
        rec = st.record
        sem = semantic()
        if column == EndpointColumn.HEALTH:
            if rec.health is None:
                return dot_icon(sem.muted)
            return dot_icon(sem.ok if rec.health is HealthState.UP else sem.error)
        if column == EndpointColumn.SERVING:
            state = serving_state(rec)
            if state is ServingState.MATCH:
                return dot_icon(sem.ok)
            return dot_icon(sem.error if state is ServingState.DRIFT else sem.muted)
        return None


def drift_by_model(statuses: Sequence[EndpointStatus]) -> dict[tuple[str, str], str]:
    """(registry, model) -> the drift sentences of its endpoints, for the portfolio marker."""
    out: dict[tuple[str, str], list[str]] = {}
    for st in statuses:
        if serving_state(st.record) is ServingState.DRIFT:
            out.setdefault((st.config.registry, st.config.model), []).append(
                st.record.serving_reason
            )
    return {key: "\n".join(reasons) for key, reasons in out.items()}
