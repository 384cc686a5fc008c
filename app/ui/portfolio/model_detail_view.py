"""The detail panel of one model: what it is, its versions, and tabs on the selected
version (the run behind it first; other features add theirs through the portfolio's
`ModelFocus`)."""

from __future__ import annotations

import logging
from html import escape

from PySide6.QtCore import QByteArray, QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QLabel,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import GavelError
from app.domain.portfolio import ModelDetail, VersionRow
from app.domain.tags import HEADLINE_TAGS, TAG_OWNER, TAG_RISK_TIER, TAG_TEAM
from app.presentation.formatting import (
    aliases_text,
    from_ms,
    local_text,
    relative_time,
    risk_color,
)
from app.services.portfolio import PortfolioService
from app.ui.common.signals import emit
from app.ui.common.tasks import TaskRunner
from app.ui.common.theme import readable_on_palette
from app.ui.common.widgets import EmptyState, muted_label, row_table, section_title
from app.ui.portfolio.detail_tabs import DetailTabs
from app.ui.portfolio.run_panel import RunPanel
from app.ui.portfolio.versions_model import VersionColumn, VersionsModel

log = logging.getLogger("gavel.ui.detail")

# Tags the subtitle already shows; the tag line lists the rest.
_HEADLINE_TAGS = HEADLINE_TAGS

# A model's newest versions shown at once; the rest follow from a worker.
FIRST_VERSIONS = 500
VERSIONS_TASK = "model-versions"


class ModelDetailView(QStackedWidget):
    """Reads the model and its runs from the cache (small, indexed queries).

    Owns its tabs (`tabs`): features add theirs with `tabs.add_tab`. While a wide tab
    is shown the versions list hides and the splitter gives the tab its width.
    """

    version_selected = Signal(object)  # VersionRow | None

    def __init__(
        self,
        portfolio: PortfolioService,
        parent: QWidget | None = None,
        runner: TaskRunner | None = None,
    ) -> None:
        super().__init__(parent)
        self._portfolio = portfolio
        # With a runner, a model with many versions shows its newest FIRST_VERSIONS at
        # once and the rest when a worker has read them.
        self._runner = runner
        self.detail: ModelDetail | None = None
        self._prefetched: tuple[int | None, ModelDetail | None] | None = None

        self.empty = EmptyState()
        self.set_portfolio_empty(False)
        self.addWidget(self.empty)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("DetailSplitter")
        self.splitter.setChildrenCollapsible(False)
        left = QWidget()
        lay = QVBoxLayout(left)
        lay.setContentsMargins(0, 0, 6, 0)
        self.title = QLabel()
        self.title.setObjectName("DetailTitle")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.subtitle = QLabel()
        self.subtitle.setObjectName("DetailSubtitle")
        self.subtitle.setTextFormat(Qt.TextFormat.RichText)
        self.subtitle.setWordWrap(True)
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.aliases = muted_label()
        self.tags = muted_label()
        self.tags.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.versions_title = section_title("Versions")
        self.versions_model = VersionsModel(self)
        self.versions = row_table(
            self.versions_model,
            "VersionsTable",
            widths=(
                (VersionColumn.VERSION, 64),
                (VersionColumn.STATUS, 90),
                (VersionColumn.ALIASES, 170),
                (VersionColumn.CREATOR, 120),
                (VersionColumn.RUN, 110),
            ),
            row_height=24,
        )
        for widget in (self.title, self.subtitle, self.description, self.aliases, self.tags):
            lay.addWidget(widget)
        # Lines other features add under the header (e.g. open findings), in install order.
        self.extra_lines = QVBoxLayout()
        self.extra_lines.setContentsMargins(0, 0, 0, 0)
        self.extra_lines.setSpacing(0)
        lay.addLayout(self.extra_lines)
        lay.addWidget(self.versions_title)
        lay.addWidget(self.versions, 1)
        self.run_panel = RunPanel()
        self.tabs = DetailTabs(self.run_panel)
        self.versions_pane = left
        self._narrow_state: QByteArray | None = None
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.addWidget(self.splitter)
        self.setCurrentWidget(self.empty)

        self.versions.selectionModel().selectionChanged.connect(self._version_changed)
        self.tabs.version_picked.connect(self.select_version)
        self.tabs.wide_changed.connect(self._set_wide)

    def set_portfolio_empty(self, empty: bool) -> None:
        """With no model in the table there is nothing to point at: say nothing."""
        if empty:
            self.empty.set_content("", "")
        else:
            self.empty.set_content(
                "No model selected",
                "Select a model in the table to see its description, versions and the runs "
                "that produced them.",
            )

    @property
    def model_key(self) -> int | None:
        return None if self.detail is None else self.detail.model_key

    @property
    def selected_version(self) -> VersionRow | None:
        rows = self.versions.selectionModel().selectedRows()
        return self.versions_model.version_at(rows[0].row()) if rows else None

    def show_model(self, key: int | None) -> None:
        """Show a model by cache key (None: the empty state); keeps the version on reload."""
        keep = self.selected_version.version if self.selected_version else None
        same_model = key is not None and key == self.model_key
        detail = None
        prefetched, self._prefetched = self._prefetched, None
        if prefetched is not None and prefetched[0] == key:
            detail = prefetched[1]
        elif key is not None:
            limit = None if self._runner is None else FIRST_VERSIONS
            try:
                detail = self._portfolio.model_detail(key, limit)
            except GavelError as exc:
                log.warning("model %s could not be read: %s", key, exc.message)
        self.detail = detail
        if detail is None:
            self.versions_model.set_versions([])
            self.setCurrentWidget(self.empty)
            self._version_changed()
            return
        self._fill_header(detail)
        self._set_versions(detail)
        self.setCurrentWidget(self.splitter)
        row = self.versions_model.row_of_version(keep) if same_model and keep else None
        # The newest version is what a reviewer looks at first.
        self.select_version_row(row if row is not None else 0)
        if not detail.versions_complete and self._runner is not None:
            portfolio, wanted = self._portfolio, detail.model_key
            self._runner.run(
                lambda cancel, progress: portfolio.model_detail(wanted),
                key=VERSIONS_TASK,
                on_success=self._complete_versions,
            )

    def _set_versions(self, detail: ModelDetail) -> None:
        self.versions_model.set_versions(detail.versions)
        # MLflow OSS often records no creator for a version; an empty column is noise.
        self.versions.setColumnHidden(
            VersionColumn.CREATOR, not any(v.user_id for v in detail.versions)
        )
        more = "" if detail.versions_complete else "+"
        self.versions_title.setText(f"Versions ({len(detail.versions)}{more})")

    def _complete_versions(self, full: ModelDetail | None) -> None:
        """All the versions of the model on screen, read by a worker: shown in place,
        the selected version kept."""
        if full is None or self.detail is None or full.model_key != self.detail.model_key:
            return
        keep = self.selected_version.version if self.selected_version else None
        selection = self.versions.selectionModel()
        selection.blockSignals(True)
        try:
            self.detail = full
            self._set_versions(full)
            row = self.versions_model.row_of_version(keep) if keep else None
            self.select_version_row(row if row is not None else 0)
        finally:
            selection.blockSignals(False)
        self.versions.viewport().update()
        self._version_changed()

    def reload(self) -> None:
        self.show_model(self.model_key)

    def read(self, key: int | None) -> ModelDetail | None:
        """The detail of a model, read from the cache (thread-safe; shown by `prefetched`)."""
        return None if key is None else self._portfolio.model_detail(key)

    def prefetched(self, key: int | None, detail: ModelDetail | None) -> None:
        """The next show_model(key) uses this detail instead of reading the cache."""
        self._prefetched = (key, detail)

    def show_prefetched(self) -> None:
        """Show the prefetched detail unless a show_model already used it."""
        if self._prefetched is not None:
            self.show_model(self._prefetched[0])

    def select_version(self, version: int) -> None:
        row = self.versions_model.row_of_version(version)
        if row is not None:
            self.select_version_row(row)

    def add_detail_line(self, widget: QWidget) -> None:
        self.extra_lines.addWidget(widget)

    def add_version_action(self, action: QAction) -> None:
        """An entry of the versions list's context menu."""
        self.versions.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.versions.addAction(action)

    # -- layout ----------------------------------------------------------------------

    def _set_wide(self, wide: bool) -> None:
        # The graph tabs get the panel's whole width; the versions list comes back
        # with the other tabs, at the width it had.
        if wide and not self.versions_pane.isHidden():
            self._narrow_state = self.splitter.saveState()
            self.versions_pane.hide()
        elif not wide and self.versions_pane.isHidden():
            self.versions_pane.show()
            if self._narrow_state is not None:
                self.splitter.restoreState(self._narrow_state)
                self._narrow_state = None

    def splitter_state(self) -> QByteArray:
        """The splitter as the narrow tabs show it (what the next session starts with)."""
        if self._narrow_state is not None:
            return self._narrow_state
        return self.splitter.saveState()

    def select_version_row(self, row: int) -> None:
        if not 0 <= row < self.versions_model.rowCount():
            self._version_changed()
            return
        self.versions.selectionModel().setCurrentIndex(
            self.versions_model.index(row, 0),
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )

    def _fill_header(self, d: ModelDetail) -> None:
        self.title.setText(d.name)
        bits = [f"Registry <b>{escape(d.registry)}</b>"]
        owner = d.tags.get(TAG_OWNER, "")
        bits.append(f"Owner <b>{escape(owner)}</b>" if owner else "<i>no owner</i>")
        if d.tags.get(TAG_TEAM):
            bits.append(f"Team <b>{escape(d.tags['team'])}</b>")
        tier = d.tags.get(TAG_RISK_TIER, "")
        # The tier's hue, lightened or darkened to stay legible on this palette.
        color = readable_on_palette(risk_color(tier), self.palette()).name()
        bits.append(
            f"Risk tier <b style='color:{color}'>{escape(tier.capitalize())}</b>"
            if tier
            else f"<span style='color:{color}'>risk tier not set</span>"
        )
        # Two clocks, each named: the registry's last change, and our last read of it.
        updated = from_ms(d.last_updated_timestamp)
        if updated is not None:
            when = escape(local_text(updated)).replace(" ", "&nbsp;")
            bits.append(f"changed in the registry&nbsp;{when}")
        if d.synced_at is not None:
            ago = escape(relative_time(d.synced_at)).replace(" ", "&nbsp;")
            bits.append(f"synced&nbsp;{ago}")
        self.subtitle.setText(" · ".join(bits))
        self.description.setText(d.description.strip() or "No description in the registry.")
        self.description.setObjectName("" if d.description.strip() else "Muted")
        self.description.style().unpolish(self.description)
        self.description.style().polish(self.description)
        if d.aliases:
            self.aliases.setText(f"Aliases: {aliases_text(d.aliases)}")
        else:
            self.aliases.setText("No aliases point at a version of this model.")
        other = {k: v for k, v in sorted(d.tags.items()) if k not in _HEADLINE_TAGS}
        self.tags.setText(
            "Tags: " + " · ".join(f"{k} = {v}" for k, v in other.items()) if other else ""
        )
        self.tags.setVisible(bool(other))

    def _version_changed(self) -> None:
        version = self.selected_version
        emit(self.version_selected, version)
        self.tabs.show_version(self.detail, version)
        if version is None or self.detail is None:
            self.run_panel.show_nothing()
            return
        if not version.run_id:
            self.run_panel.show_no_run(version)
            return
        try:
            run = self._portfolio.run_detail(self.detail.registry, version.run_id)
        except GavelError as exc:
            log.warning("run %s could not be read: %s", version.run_id, exc.message)
            run = None
        if run is None:
            self.run_panel.show_run_missing(version)
        else:
            self.run_panel.show_run(version, run)
