"""The tabs of the model detail panel: Run first, then those other features add.

A feature's tab is built the first time it is shown (charts pull in matplotlib, not
a start-up cost) and follows the panel's model and version only while it is shown:
a hidden tab is marked stale and catches up when it is next shown, so scrolling
through versions never queries for tabs nobody looks at. Wide tabs (graphs) want
the panel's whole width; the version is then picked in the tab bar's corner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QTabWidget, QWidget

from app.domain.portfolio import ModelDetail, VersionRow
from app.presentation.formatting import version_label
from app.ui.common.host import DetailTab
from app.ui.common.signals import emit
from app.ui.common.widgets import LazySlot

RUN_TAB = "run"


@dataclass
class _Entry:
    key: str
    factory: Callable[[], DetailTab]
    wide: bool
    slot: LazySlot | None = None
    tab: DetailTab | None = None


class DetailTabs(QTabWidget):
    """Emits the version picked in the corner, and whether a wide tab is shown."""

    version_picked = Signal(int)
    wide_changed = Signal(bool)

    def __init__(self, run_panel: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("DetailTabs")
        self.setDocumentMode(True)
        self.run_panel = run_panel
        self.model: ModelDetail | None = None
        self.version: VersionRow | None = None
        self._entries: dict[str, _Entry] = {}
        self._stale: set[str] = set()
        self._wide = False
        self.addTab(run_panel, "Run")
        self.setTabToolTip(0, "The run behind this version: metrics, parameters, datasets")

        corner = QWidget()
        corner_lay = QHBoxLayout(corner)
        corner_lay.setContentsMargins(8, 0, 4, 0)
        self.model_label = QLabel()
        self.model_label.setObjectName("SectionTitle")
        self.picker = QComboBox()
        self.picker.setObjectName("DetailVersionPicker")
        self.picker.setToolTip("The version the Run, Lineage and Metrics tabs show")
        self.picker.setMinimumContentsLength(16)
        corner_lay.addWidget(self.model_label)
        corner_lay.addWidget(self.picker)
        self.setCornerWidget(corner, Qt.Corner.TopRightCorner)
        # Only with a wide tab, where the versions list is hidden: beside the list it
        # said what the list says and squeezed the tabs into a scrolling bar at 1024 px.
        corner.hide()
        self._corner = corner

        self.currentChanged.connect(self._tab_changed)
        self.picker.activated.connect(self._picked)

    # -- registry ------------------------------------------------------------------------

    def add_tab(
        self,
        key: str,
        title: str,
        factory: Callable[[], DetailTab],
        tooltip: str = "",
        wide: bool = False,
        lazy: bool = True,
    ) -> None:
        if key == RUN_TAB or key in self._entries:
            raise ValueError(f"a detail tab '{key}' already exists")
        entry = _Entry(key, factory, wide)
        entry.slot = LazySlot(lambda: self._build(entry))
        index = self.addTab(entry.slot, title)
        self.setTabToolTip(index, tooltip)
        self._entries[key] = entry
        self._stale.add(key)
        if not lazy:
            entry.slot.widget  # noqa: B018 - building is the point

    def keys(self) -> list[str]:
        return [RUN_TAB, *self._entries]

    def slot(self, key: str) -> LazySlot:
        """Where the tab lives; its content is built the first time it is shown."""
        slot = self._entries[key].slot
        assert slot is not None
        return slot

    def tab(self, key: str) -> DetailTab | None:
        """The tab's controller, once built."""
        return self._entries[key].tab

    def select(self, key: str) -> None:
        self.setCurrentWidget(self.run_panel if key == RUN_TAB else self.slot(key))

    @property
    def current_key(self) -> str:
        entry = self._current_entry()
        return RUN_TAB if entry is None else entry.key

    @property
    def wide(self) -> bool:
        return self._wide

    # -- what to show --------------------------------------------------------------------

    def show_version(self, model: ModelDetail | None, version: VersionRow | None) -> None:
        """The panel's model or version changed: every tab is stale, the shown one loads."""
        self.model, self.version = model, version
        self._fill_picker()
        self._stale = set(self._entries)
        self._load_current()

    def _build(self, entry: _Entry) -> QWidget:
        entry.tab = entry.factory()
        return entry.tab.widget

    def _current_entry(self) -> _Entry | None:
        current = self.currentWidget()
        return next((e for e in self._entries.values() if e.slot is current), None)

    def _tab_changed(self, _index: int) -> None:
        entry = self._current_entry()
        wide = entry is not None and entry.wide
        if wide != self._wide:
            self._wide = wide
            self._corner.setVisible(wide)
            emit(self.wide_changed, wide)
        self._load_current()

    def _load_current(self) -> None:
        entry = self._current_entry()
        if entry is None or entry.key not in self._stale or entry.slot is None:
            return
        self._stale.discard(entry.key)
        entry.slot.widget  # noqa: B018 - builds the tab the first time
        if entry.tab is not None:
            entry.tab.show_version(self.model, self.version)

    def _fill_picker(self) -> None:
        d = self.model
        self.model_label.setText(d.name if d else "")
        self.picker.blockSignals(True)
        self.picker.clear()
        for v in d.versions if d else ():
            self.picker.addItem(version_label(v), v.version)
        if self.version is not None:
            self.picker.setCurrentIndex(self.picker.findData(self.version.version))
        self.picker.blockSignals(False)
        self.picker.setEnabled(bool(d and d.versions))

    def _picked(self, index: int) -> None:
        version = self.picker.itemData(index)
        if version is not None:
            emit(self.version_picked, int(version))
