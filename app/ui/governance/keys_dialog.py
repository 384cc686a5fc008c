"""Identity → Pending keys…: the enrolments and rotated keys waiting for an admin.

On a team ledger a new member's key counts only once an admin countersigns its
enrolment; until then nothing signed with it counts. The admin sees who asked, when,
the key's id and the registry user names the person claimed, and approves with a
signature of their own.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.authority_model import PendingKey
from app.domain.ledger import LedgerEvent
from app.presentation.formatting import utc_text
from app.services.governance_inbox import GovernanceData, admin_block_reason
from app.services.membership import MembershipService
from app.ui.common.row_list_model import RowListModel
from app.ui.common.tasks import TaskRunner
from app.ui.common.widgets import EmptyState, row_table
from app.ui.governance.governance_controller import GovernanceController
from app.ui.governance.sign_dialog import ReasonField, SignDialog

AnyIndex = QModelIndex | QPersistentModelIndex


class PendingKeysModel(RowListModel[tuple[str, ...]]):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(
            ("User ID", "Printed name", "Key", "Enrolled (UTC)", "Registry names", "Kind"),
            parent,
        )
        self.keys: list[PendingKey] = []

    def set_keys(self, keys: tuple[PendingKey, ...]) -> None:
        self.keys = list(keys)
        self._reset(
            [
                (
                    k.user_id,
                    k.display_name,
                    k.key_id,
                    utc_text(k.enrolled_at),
                    ", ".join(k.claimed_usernames) or "none claimed",
                    "new member" if k.replaces is None else f"replaces key {k.replaces}",
                )
                for k in keys
            ]
        )

    def key_at(self, row: int) -> PendingKey | None:
        return self.keys[row] if 0 <= row < len(self.keys) else None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        found = self._row(index.row()) if index.isValid() else None
        if found is None or role != Qt.ItemDataRole.DisplayRole:
            return None
        return found[index.column()]


class PendingKeysDialog(QDialog):
    """Approve waiting keys (admins); everyone else sees the list and why they cannot."""

    def __init__(
        self,
        membership: MembershipService,
        runner: TaskRunner,
        controller: GovernanceController,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._membership = membership
        self._runner = runner
        self._controller = controller
        self.sign_dialog: SignDialog | None = None
        self.setWindowTitle("Keys waiting for an admin")
        self.setMinimumSize(960, 360)
        intro = QLabel(
            "A key counts only after an admin approves it: check with the person, by a "
            "channel you trust, that the key id below is the one their computer shows "
            "('gavel identity show'). Approving is signed with your key."
        )
        intro.setWordWrap(True)
        self.model = PendingKeysModel(self)
        # The key id is what the admin compares with the person: never elided.
        self.table = row_table(
            self.model, "PendingKeys", widths=((0, 90), (1, 130), (2, 330), (3, 170), (4, 110))
        )
        self.empty = EmptyState()
        self.empty.set_content(
            "No key is waiting",
            "New members' keys appear here when they enrol on this team ledger.",
        )
        self.approve_button = QPushButton("Approve key…")
        self.approve_button.clicked.connect(self.approve_selected)
        self.outcome = QLabel()
        self.outcome.setWordWrap(True)
        self.outcome.hide()
        row = QHBoxLayout()
        row.addWidget(self.outcome, 1)
        row.addStretch(0)
        row.addWidget(self.approve_button, 0)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty, 1)
        layout.addLayout(row)
        layout.addWidget(close)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update())
        controller.changed.connect(self._data_changed)
        self._data_changed(controller.data)

    @property
    def selected(self) -> PendingKey | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.key_at(rows[0].row()) if rows else None

    def _data_changed(self, data: GovernanceData) -> None:
        self.model.set_keys(data.pending_keys)
        has = bool(data.pending_keys)
        self.table.setVisible(has)
        self.empty.setVisible(not has)
        if has and not self.table.selectionModel().hasSelection():
            self.table.selectRow(0)
        self._update()

    def _update(self) -> None:
        why = admin_block_reason(self._controller.data)
        if not why and self.selected is None:
            why = "Select a key first."
        self.approve_button.setEnabled(not why)
        self.approve_button.setToolTip(why or "Countersign this key's enrolment")

    def approve_selected(self) -> None:
        key, me = self.selected, self._controller.data.me
        if key is None or me is None or self.sign_dialog is not None:
            return
        membership = self._membership
        user = key.user_id
        dialog = SignDialog(
            self._runner,
            f"Approve the key of {user}?",
            f"Approve key <b>{key.key_id}</b> of <b>{key.display_name} ({user})</b>, enrolled "
            f"{utc_text(key.enrolled_at)}. From then on, what {user} signs with it counts "
            "with the roles an admin grants them.",
            me.user_id,
            "Sign approval of key",
            lambda reason, passphrase: membership.approve_key(user, passphrase, None, reason),
            ReasonField("Note", "e.g. Key id confirmed with Ann by phone.", False),
            self,
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _r: self._approved(dialog, user))
        self.sign_dialog = dialog
        dialog.open()

    def _approved(self, dialog: SignDialog, user: str) -> None:
        self.sign_dialog = None
        if isinstance(dialog.result, LedgerEvent):
            self.outcome.setText(f"The key of {user} now counts (event {dialog.result.seq}).")
            self.outcome.show()
            self._controller.wrote()
