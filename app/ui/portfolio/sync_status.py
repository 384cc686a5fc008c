"""The registries' side of the status bar: how fresh the cache is, online or offline."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

from app.ui.common.host import Host
from app.ui.common.widgets import IconLabel


class SyncStatus:
    """Permanent status-bar widgets: 'Synced 5 minutes ago', and the connectivity."""

    def __init__(self, host: Host) -> None:
        self.synced = QLabel()
        self.synced.setObjectName("Muted")
        self.connectivity = QLabel()
        self._connectivity_icon = IconLabel(14)
        host.add_status_widget(self.synced)
        host.add_status_widget(self._connectivity_icon)
        host.add_status_widget(self.connectivity)
        self.online: bool | None = None

    def set_connectivity(self, online: bool | None, label: str, tooltip: str) -> None:
        """online None: nothing proves either way yet (not synced this session)."""
        self.online = online
        self.connectivity.setText(label)
        if online is None:
            self.connectivity.setObjectName("Muted")
            self._connectivity_icon.set_icon("")
        elif online:
            self.connectivity.setObjectName("StatusOnline")
            self._connectivity_icon.set_icon("online")
        else:
            self.connectivity.setObjectName("StatusOffline")
            self._connectivity_icon.set_icon("offline")
        self.connectivity.setToolTip(tooltip)
        self._connectivity_icon.setToolTip(tooltip)
        self.connectivity.style().unpolish(self.connectivity)
        self.connectivity.style().polish(self.connectivity)

    def set_synced(self, text: str, tooltip: str) -> None:
        self.synced.setText(text)
        self.synced.setToolTip(tooltip)
