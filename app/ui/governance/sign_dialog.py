"""The signing step every act of authority goes through in the console.

Comments, withdrawals, applies, key approvals and acknowledgements are signed
ledger events: the dialog says what will be signed and by whom, asks for the
passphrase that unlocks the person's key (profile.toml only says which key), and
runs the write in a worker. A wrong passphrase signs nothing and says so next to
the field; any other refusal is shown in the dialog, which stays open.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.cancel import CancelToken
from app.domain.errors import GavelError
from app.domain.progress import ProgressCallback
from app.services.identity import WrongPassphrase
from app.ui.common.tasks import TaskRunner
from app.ui.common.widgets import error_label

# What the work receives: the text typed in the reason field ('' without one) and the
# passphrase.
SignedWork = Callable[[str, str], Any]


class PassphraseField(QWidget):
    """A password field with its own error line under it (a wrong passphrase)."""

    def __init__(self, user_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = QLineEdit()
        self.edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.edit.setPlaceholderText(f"Passphrase of {user_id}")
        self.error = error_label()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit)
        layout.addWidget(self.error)
        self.edit.textChanged.connect(lambda _t: self.error.hide())

    def text(self) -> str:
        return self.edit.text()

    def wrong(self, message: str) -> None:
        self.edit.clear()
        self.error.setText(message)
        self.error.show()
        self.edit.setFocus()


@dataclass(frozen=True)
class ReasonField:
    label: str
    placeholder: str
    required: bool


class SignDialog(QDialog):
    """Sign one ledger event; `result` holds what the work returned after accept."""

    def __init__(
        self,
        runner: TaskRunner,
        title: str,
        what: str,
        user_id: str,
        sign_text: str,
        work: SignedWork,
        reason: ReasonField | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._runner = runner
        self._work = work
        self._sign_text = sign_text
        self._reason_spec = reason
        self.result: Any = None
        self.signed = False
        self.busy = False
        self.setWindowTitle(title)
        self.setMinimumWidth(520)
        self.what = QLabel(what)
        self.what.setWordWrap(True)
        self.what.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.signer_note = QLabel(
            f"Signed with the key of <b>{user_id}</b> and recorded in the audit ledger, "
            "where it cannot be changed or removed."
        )
        self.signer_note.setObjectName("Muted")
        self.signer_note.setWordWrap(True)
        # Parented: without a reason field it is never laid out, and a parentless widget
        # would outlive the dialog as a hidden top-level window.
        self.reason = QPlainTextEdit(self)
        self.reason.setFixedHeight(72)
        self.passphrase = PassphraseField(user_id)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        if reason is not None:
            self.reason.setPlaceholderText(reason.placeholder)
            form.addRow(reason.label + (" (required)" if reason.required else ""), self.reason)
        else:
            self.reason.hide()
        form.addRow("Passphrase", self.passphrase)
        self.error = error_label()
        self.buttons = QDialogButtonBox()
        self.sign_button: QPushButton = self.buttons.addButton(
            sign_text, QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.cancel_button: QPushButton = self.buttons.addButton(
            QDialogButtonBox.StandardButton.Cancel
        )
        self.sign_button.setDefault(True)
        self.sign_button.clicked.connect(self.sign)
        self.cancel_button.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.what)
        layout.addWidget(self.signer_note)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.reason.textChanged.connect(self._update)
        self.passphrase.edit.textChanged.connect(self._update)
        self._update()
        (self.reason if reason is not None else self.passphrase.edit).setFocus()

    def block_reason(self) -> str:
        spec = self._reason_spec
        if spec is not None and spec.required and not self.reason.toPlainText().strip():
            return f"Fill in the {spec.label.lower()} first."
        if not self.passphrase.text():
            return "Enter your passphrase to sign."
        return ""

    def _update(self) -> None:
        why = self.block_reason()
        self.sign_button.setEnabled(not why and not self.busy)
        self.sign_button.setToolTip(why or "Sign with your key; this is recorded in the ledger")

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        for widget in (self.reason, self.passphrase, self.cancel_button):
            widget.setEnabled(not busy)
        self.sign_button.setText("Signing…" if busy else self._sign_text)
        self._update()

    def sign(self) -> None:
        if self.busy or self.block_reason():
            return
        work, reason, passphrase = self._work, self.reason.toPlainText().strip(), self.passphrase
        secret = passphrase.text()

        def run(_cancel: CancelToken, _progress: ProgressCallback) -> Any:
            return work(reason, secret)

        self.error.hide()
        self._set_busy(True)
        self._runner.run(
            run,
            key=f"sign-{id(self)}",
            label="Signing",
            on_success=self._done,
            on_failure=self._failed,
        )

    def _done(self, result: Any) -> None:
        self._set_busy(False)
        self.result = result
        self.signed = True
        self.accept()

    def _failed(self, exc: GavelError) -> None:
        self._set_busy(False)
        if isinstance(exc, WrongPassphrase):
            self.passphrase.wrong(exc.message)
        else:
            self.error.setText(f"Nothing was signed: {exc.message}")
            self.error.show()

    def reject(self) -> None:
        if not self.busy:  # a signature being written cannot be taken back half way
            super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.busy:
            event.ignore()
            return
        super().closeEvent(event)
