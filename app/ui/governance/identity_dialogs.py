"""Identity → Enroll… (who you are, and your signing key) and Identity → Roles… (an
admin grants and revokes roles). Both write to the ledger in a worker."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.cancel import CancelToken
from app.domain.errors import GavelError
from app.domain.governance import Role
from app.domain.ledger import LedgerEvent
from app.domain.progress import ProgressCallback
from app.services.governance_inbox import (
    ROLE_ORDER,
    GovernanceData,
    admin_block_reason,
    roles_text,
)
from app.services.identity import MIN_PASSPHRASE, WrongPassphrase
from app.services.membership import Enrolment, MembershipService
from app.ui.common.row_list_model import RowListModel
from app.ui.common.tasks import TaskRunner
from app.ui.common.widgets import error_label, row_table, show_outcome
from app.ui.governance.governance_controller import GovernanceController
from app.ui.governance.sign_dialog import PassphraseField

AnyIndex = QModelIndex | QPersistentModelIndex

SESSION_ONLY_WARNING = (
    "No system keyring is available on this computer: your signing key will be kept "
    "for this session only and lost when Gavel closes. You would have to enroll a new "
    "key next time. Install or unlock a keyring to keep it."
)


class EnrollDialog(QDialog):
    """Create this profile's identity and signing key; `enrolment` is set after accept."""

    def __init__(
        self,
        membership: MembershipService,
        runner: TaskRunner,
        keyring_persistent: bool,
        parent: QWidget | None = None,
        user_id: str = "",
        display_name: str = "",
    ) -> None:
        super().__init__(parent)
        self._membership = membership
        self._runner = runner
        self.busy = False
        self.enrolment: Enrolment | None = None
        self.setWindowTitle("Enroll: your identity and signing key")
        self.setMinimumWidth(520)
        intro = QLabel(
            "Your user id and printed name appear on every request, approval and "
            "rejection you make. Approvals and rejections are signed with a key that only "
            "your passphrase unlocks. The first person enrolled on a new ledger becomes "
            "its admin; on a team ledger an admin must approve your key before it counts. "
            "One person has one key: a user id already on the ledger cannot enrol again."
        )
        intro.setWordWrap(True)
        self.user_id = QLineEdit(user_id)
        self.user_id.setPlaceholderText("e.g. a.lovelace (no spaces)")
        self.display_name = QLineEdit(display_name)
        self.display_name.setPlaceholderText("e.g. Ada Lovelace")
        self.registry_names = QLineEdit()
        self.registry_names.setPlaceholderText("e.g. ada.l, alovelace (comma separated)")
        self.registry_names.setToolTip(
            "Your user names in the registries: nobody may approve a version they created "
            "or trained, and Gavel recognises you by these names."
        )
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setPlaceholderText(f"At least {MIN_PASSPHRASE} characters")
        self.repeat = QLineEdit()
        self.repeat.setEchoMode(QLineEdit.EchoMode.Password)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.addRow("User ID", self.user_id)
        form.addRow("Printed name", self.display_name)
        form.addRow("Registry user names", self.registry_names)
        form.addRow("Passphrase", self.passphrase)
        form.addRow("Repeat passphrase", self.repeat)
        self.warning = QLabel(SESSION_ONLY_WARNING)
        self.warning.setObjectName("SecretWarning")
        self.warning.setWordWrap(True)
        self.warning.setVisible(not keyring_persistent)
        self.hint = QLabel()
        self.hint.setObjectName("Muted")
        self.error = error_label()
        self.buttons = QDialogButtonBox()
        self.enroll_button: QPushButton = self.buttons.addButton(
            "Enroll", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.enroll_button.clicked.connect(self.enroll)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.warning)
        layout.addWidget(self.hint)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        for field in (
            self.user_id,
            self.display_name,
            self.registry_names,
            self.passphrase,
            self.repeat,
        ):
            field.textChanged.connect(self._update)
        self._update()

    def _block_reason(self) -> str:
        user = self.user_id.text().strip()
        if not user:
            return "Enter your user id."
        if any(c.isspace() for c in user):
            return "A user id has no spaces, e.g. a.lovelace."
        if len(self.passphrase.text()) < MIN_PASSPHRASE:
            return f"Choose a passphrase of at least {MIN_PASSPHRASE} characters."
        if self.passphrase.text() != self.repeat.text():
            return "The two passphrases differ."
        return ""

    def _update(self) -> None:
        why = self._block_reason()
        self.hint.setText(why)
        self.enroll_button.setEnabled(not why and not self.busy)
        self.enroll_button.setToolTip(why)
        self.error.hide()

    def enroll(self) -> None:
        if self.busy or self._block_reason():
            return
        membership = self._membership
        user = self.user_id.text().strip()
        name = self.display_name.text().strip()
        names = tuple(n.strip() for n in self.registry_names.text().split(",") if n.strip())
        passphrase = self.passphrase.text()

        def work(_cancel: CancelToken, _progress: ProgressCallback) -> Enrolment:
            return membership.init_identity(user, name, names, passphrase)

        self.busy = True
        self.enroll_button.setText("Enrolling…")
        self._update()
        self._runner.run(
            work,
            key=f"enroll-{id(self)}",
            label="Creating your signing key",
            on_success=self._enrolled,
            on_failure=self._failed,
        )

    def _enrolled(self, enrolment: Enrolment) -> None:
        self.busy = False
        self.enrolment = enrolment
        self.accept()

    def _failed(self, exc: GavelError) -> None:
        self.busy = False
        self.enroll_button.setText("Enroll")
        self._update()
        self.error.setText(f"Not enrolled: {exc.message}")
        self.error.show()

    def reject(self) -> None:
        if not self.busy:
            super().reject()


class PeopleModel(RowListModel[tuple[str, str, str]]):
    """Everyone the ledger knows, with their roles (a small in-memory list)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(("User ID", "Printed name", "Roles"), parent)

    def set_data(self, data: GovernanceData) -> None:
        users = sorted(set(data.identities) | set(data.roles))
        self._reset(
            [
                (
                    u,
                    data.identities[u].display_name if u in data.identities else "(not enrolled)",
                    roles_text(data.roles.get(u, frozenset())),
                )
                for u in users
            ]
        )

    def user_at(self, row: int) -> str | None:
        found = self._row(row)
        return str(found[0]) if found is not None else None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        found = self._row(index.row()) if index.isValid() else None
        if found is None or role != Qt.ItemDataRole.DisplayRole:
            return None
        return found[index.column()]


class RoleChange(IntEnum):
    GRANT = 0
    REVOKE = 1


class RolesDialog(QDialog):
    """Grant or revoke roles (admins only); every change is a ledger event."""

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
        self.busy = False
        self.setWindowTitle("Roles")
        self.setMinimumSize(560, 420)
        intro = QLabel(
            "Requesters ask for promotions, approvers decide them, auditors record findings, "
            "admins manage roles and policy, viewers only read. Every change is signed with "
            "your key and recorded in the audit ledger."
        )
        intro.setWordWrap(True)
        self.people_model = PeopleModel(self)
        self.people = row_table(self.people_model, widths=((0, 130), (1, 170)))
        self.user = QComboBox()
        self.user.setEditable(True)
        self.user.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.role = QComboBox()
        for role in ROLE_ORDER:
            self.role.addItem(role.value, role.value)
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("Why (recorded with the change), e.g. joined model risk")
        self.grant_button = QPushButton("Grant")
        self.revoke_button = QPushButton("Revoke")
        self.grant_button.clicked.connect(lambda: self.change(RoleChange.GRANT))
        self.revoke_button.clicked.connect(lambda: self.change(RoleChange.REVOKE))
        form = QFormLayout()
        form.addRow("Person", self.user)
        form.addRow("Role", self.role)
        form.addRow("Reason", self.reason)
        me = controller.data.me
        self.passphrase = PassphraseField(me.user_id if me else "you")
        form.addRow("Your passphrase", self.passphrase)
        self.as_of = QLabel()
        self.as_of.setObjectName("Muted")
        self.as_of.setWordWrap(True)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.grant_button)
        row.addWidget(self.revoke_button)
        self.outcome = QLabel()
        self.outcome.setWordWrap(True)
        self.outcome.hide()
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.as_of)
        layout.addWidget(self.people, 1)
        layout.addLayout(form)
        layout.addLayout(row)
        layout.addWidget(self.outcome)
        layout.addWidget(close)
        self.people.selectionModel().selectionChanged.connect(self._person_selected)
        controller.changed.connect(self._data_changed)
        self._data_changed(controller.data)

    def _data_changed(self, data: GovernanceData) -> None:
        current = self.user.currentText()
        self.people_model.set_data(data)
        self.user.blockSignals(True)
        self.user.clear()
        self.user.addItems(sorted(set(data.identities) | set(data.roles)))
        self.user.setCurrentText(current)
        self.user.blockSignals(False)
        self.as_of.setText(
            f"Roles as of replica: {data.as_of}. The team ledger cannot be reached."
            if data.as_of
            else ""
        )
        self.as_of.setVisible(bool(data.as_of))
        why = admin_block_reason(data)
        for button in (self.grant_button, self.revoke_button):
            button.setEnabled(not why and not self.busy)
            button.setToolTip(why)

    def _person_selected(self) -> None:
        rows = self.people.selectionModel().selectedRows()
        user = self.people_model.user_at(rows[0].row()) if rows else None
        if user:
            self.user.setCurrentText(user)

    def change(self, kind: RoleChange) -> None:
        user = self.user.currentText().strip()
        if self.busy or not user:
            return
        role = Role(str(self.role.currentData()))
        reason = self.reason.text().strip()
        passphrase = self.passphrase.text()
        if not passphrase:
            self._set_result("Enter your passphrase: role changes are signed.", error=True)
            return
        membership = self._membership

        def work(_cancel: CancelToken, _progress: ProgressCallback) -> LedgerEvent:
            if kind is RoleChange.GRANT:
                return membership.grant(user, role, passphrase, reason)
            return membership.revoke(user, role, passphrase, reason)

        self.busy = True
        self._set_result("", error=False)
        self._runner.run(
            work,
            key=f"roles-{id(self)}",
            label="Changing roles",
            on_success=lambda event: self._changed(kind, user, role, event),
            on_failure=self._failed,
        )

    def _changed(self, kind: RoleChange, user: str, role: Role, event: LedgerEvent) -> None:
        self.busy = False
        verb = "granted to" if kind is RoleChange.GRANT else "revoked from"
        self._set_result(f"The {role.value} role was {verb} {user} (event {event.seq}).", False)
        self.reason.clear()
        self._controller.wrote()

    def _failed(self, exc: GavelError) -> None:
        self.busy = False
        if isinstance(exc, WrongPassphrase):
            self.passphrase.wrong(exc.message)
            self._set_result("", error=False)
        else:
            self._set_result(exc.message, error=True)
        self._data_changed(self._controller.data)

    def _set_result(self, text: str, error: bool) -> None:
        show_outcome(self.outcome, text, error)
