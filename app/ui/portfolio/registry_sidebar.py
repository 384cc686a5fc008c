"""The registries list on the left: 'All registries', then each registry with its
model count, the demo marked, and under its name whether it answers now (online,
offline, auth failed, or checking… before this session's first check) and when it
was last synced."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QHeaderView, QMenu, QTreeWidget, QTreeWidgetItem, QWidget

from app.domain.portfolio import RegistryStatus
from app.domain.registry import LinkState, RegistryLink
from app.presentation.console_state import link_state, registry_line, state_word
from app.presentation.formatting import local_text, relative_time
from app.ui.common.resources import icon
from app.ui.common.signals import emit

_NAME_ROLE = Qt.ItemDataRole.UserRole + 1
# Set on a registry held only as a snapshot (not configured).
_SNAPSHOT_ROLE = Qt.ItemDataRole.UserRole + 2
ALL_REGISTRIES = "All registries"
MAX_WIDTH = 260  # px: the most the sidebar claims for its names


class RegistrySidebar(QTreeWidget):
    """Emits the registry to filter on: a name, or None for all of them."""

    registry_selected = Signal(object)
    sync_requested = Signal(str)
    edit_requested = Signal(str)
    remove_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._snapshots: list[RegistryStatus] = []
        self._snapshot_note = ""
        self.setObjectName("RegistrySidebar")
        self.setColumnCount(2)
        self.setHeaderHidden(True)
        self.setRootIsDecorated(False)
        # Registries take three lines (name, state, last sync); 'All' one.
        self.setUniformRowHeights(False)
        self.setIndentation(0)
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._context_menu)
        self.currentItemChanged.connect(self._current_changed)
        self._statuses: dict[str, RegistryStatus] = {}
        self._links: Mapping[str, RegistryLink] = {}
        self._updating = False

    @property
    def selected_registry(self) -> str | None:
        item = self.currentItem()
        if item is None:
            return None
        name = item.data(0, _NAME_ROLE)
        return name if isinstance(name, str) else None

    def set_statuses(
        self,
        statuses: Sequence[RegistryStatus],
        select: str | None = None,
        links: Mapping[str, RegistryLink] | None = None,
        now: datetime | None = None,
    ) -> None:
        """Rebuild the list; keeps (or sets) the selected registry when it still exists.

        links: what this session's checks found (None keeps the last ones given)."""
        wanted = select if select is not None else self.selected_registry
        self._statuses = {s.name: s for s in statuses}
        snapshots = [s for s in self._snapshots if s.name not in self._statuses]
        if links is not None:
            self._links = dict(links)
        now = now or datetime.now(UTC)
        self._updating = True
        try:
            self.clear()
            total = sum(s.model_count for s in statuses) + sum(s.model_count for s in snapshots)
            everything = QTreeWidgetItem([ALL_REGISTRIES, str(total)])
            everything.setIcon(0, icon("all-registries"))
            everything.setToolTip(0, "Models of every registry this computer holds")
            self._align_count(everything)
            self.addTopLevelItem(everything)
            current = everything
            for status in statuses:
                # One fact a line: the sidebar is narrow (about 190 px).
                facts = registry_line(status, self._links, now).replace(" · ", "\n")
                text = f"{self._label(status)}\n{facts}"
                item = QTreeWidgetItem([text, str(status.model_count)])
                item.setData(0, _NAME_ROLE, status.name)
                item.setIcon(0, self._icon(status, link_state(status.name, self._links)))
                tip = self._tooltip(status, self._links.get(status.name), now)
                item.setToolTip(0, tip)
                item.setToolTip(1, f"{status.model_count} models cached")
                self._align_count(item)
                self.addTopLevelItem(item)
                if status.name == wanted:
                    current = item
            for snap in snapshots:
                taken = (
                    f"Snapshot of {local_text(snap.last_synced_at)}."
                    if snap.last_synced_at is not None
                    else "Snapshot."
                )
                # One short fact a line, as for configured registries (the sidebar is narrow).
                item = QTreeWidgetItem([f"{snap.name}\nsnapshot only", str(snap.model_count)])
                item.setData(0, _NAME_ROLE, snap.name)
                item.setData(0, _SNAPSHOT_ROLE, True)
                item.setIcon(0, icon("registry"))
                item.setToolTip(0, f"{snap.url}\n{taken} {self._snapshot_note}")
                item.setToolTip(1, f"{snap.model_count} models in the snapshot")
                self._align_count(item)
                self.addTopLevelItem(item)
                if snap.name == wanted:
                    current = item
            self.setCurrentItem(current)
        finally:
            self._updating = False
        self._fit_names()

    def set_snapshots(self, snapshots: Sequence[RegistryStatus], note: str) -> None:
        """Registries held only as a snapshot (a bundle's; one removed with its snapshot
        kept), listed after the configured ones; note says what they are."""
        self._snapshots = list(snapshots)
        self._snapshot_note = note

    def _fit_names(self) -> None:
        """At least as wide as its longest name and count, so a narrow window squeezes the
        table, not the names into "…"; capped so one very long name cannot take over."""
        needed = self.sizeHintForColumn(0) + self.sizeHintForColumn(1) + 2 * self.frameWidth() + 4
        self.setMinimumWidth(min(needed, MAX_WIDTH))

    def select_registry(self, name: str | None) -> None:
        for i in range(self.topLevelItemCount()):
            item = self.topLevelItem(i)
            if item is not None and item.data(0, _NAME_ROLE) == name:
                self.setCurrentItem(item)
                return

    def _current_changed(self, current: QTreeWidgetItem | None, _: object) -> None:
        if not self._updating and current is not None:
            emit(self.registry_selected, current.data(0, _NAME_ROLE))

    @staticmethod
    def _align_count(item: QTreeWidgetItem) -> None:
        item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    @staticmethod
    def _label(status: RegistryStatus) -> str:
        return f"{status.name} (demo)" if status.is_demo else status.name

    def state_text(self, name: str) -> str:
        """The registry's second line as shown ('online · synced just now')."""
        status = self._statuses.get(name)
        return registry_line(status, self._links, datetime.now(UTC)) if status else ""

    @staticmethod
    def _icon(status: RegistryStatus, state: LinkState) -> QIcon:
        if state is LinkState.ONLINE:
            return icon("online")
        if state is LinkState.OFFLINE:
            return icon("offline")
        if state is LinkState.AUTH_FAILED:
            return icon("error")
        return icon("demo") if status.is_demo else icon("registry")

    @staticmethod
    def _tooltip(status: RegistryStatus, link: RegistryLink | None, now: datetime) -> str:
        lines = [status.url]
        if status.is_demo:
            lines.append("Demo registry: sample data on a local MLflow server.")
        if link is None or link.checked_at is None:
            lines.append("Checking whether it answers (not checked in this session yet).")
        else:
            seen = f" {link.message}" if link.message else ""
            lines.append(
                f"{state_word(link.state).capitalize()} when checked "
                f"{relative_time(link.checked_at, now)}.{seen}"
            )
        if status.last_synced_at is not None:
            lines.append(
                f"Last synced {relative_time(status.last_synced_at, now)} "
                f"({local_text(status.last_synced_at)})"
            )
        else:
            lines.append("Never synced")
        if status.last_error:
            lines.append(f"Last sync failed: {status.last_error}")
        return "\n".join(lines)

    def _context_menu(self, pos: QPoint) -> None:
        item = self.itemAt(pos)
        name = item.data(0, _NAME_ROLE) if item is not None else None
        if not isinstance(name, str) or item is None or item.data(0, _SNAPSHOT_ROLE):
            return  # a snapshot is not configured: nothing to sync, edit or remove
        menu = QMenu(self)
        menu.addAction(icon("sync"), f"Sync {name}", lambda: emit(self.sync_requested, name))
        menu.addAction(icon("edit"), "Edit…", lambda: emit(self.edit_requested, name))
        menu.addAction(icon("remove"), "Remove…", lambda: emit(self.remove_requested, name))
        menu.exec(self.viewport().mapToGlobal(pos))
