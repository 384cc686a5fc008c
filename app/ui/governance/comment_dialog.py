"""Add a comment to a request's record (unsigned; recorded in the ledger, in a worker)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.cancel import CancelToken
from app.domain.errors import GavelError
from app.domain.governance import PromotionRequest
from app.domain.progress import ProgressCallback
from app.services.governance import GovernanceService
from app.ui.common.tasks import TaskRunner


class CommentDialog(QDialog):
    def __init__(
        self,
        governance: GovernanceService,
        runner: TaskRunner,
        request: PromotionRequest,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._governance = governance
        self._runner = runner
        self.request = request
        self.busy = False
        self.result_request: PromotionRequest | None = None
        self.setWindowTitle(f"Comment on {request.target_text}")
        self.setMinimumWidth(480)
        intro = QLabel(
            "Your comment is added to the request's record in the audit ledger, under your "
            "name. It is not a signature and does not decide the request."
        )
        intro.setWordWrap(True)
        self.text = QPlainTextEdit()
        self.text.setPlaceholderText("e.g. Asked the requester for the bias review reference.")
        self.error = QLabel()
        self.error.setObjectName("FieldError")
        self.error.setWordWrap(True)
        self.error.hide()
        self.buttons = QDialogButtonBox()
        self.add_button: QPushButton = self.buttons.addButton(
            "Add comment", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.add_button.clicked.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.text.textChanged.connect(self._update)
        self._update()

    def _update(self) -> None:
        empty = not self.text.toPlainText().strip()
        self.add_button.setEnabled(not empty and not self.busy)
        self.add_button.setToolTip("Write the comment first." if empty else "")

    def submit(self) -> None:
        text = self.text.toPlainText().strip()
        if self.busy or not text:
            return
        governance, request_id = self._governance, self.request.request_id

        def work(_cancel: CancelToken, _progress: ProgressCallback) -> PromotionRequest:
            return governance.comment(request_id, text)

        self.busy = True
        self._update()
        self._runner.run(
            work,
            key=f"comment-{id(self)}",
            label="Recording the comment",
            on_success=self._done,
            on_failure=self._failed,
        )

    def _done(self, request: PromotionRequest) -> None:
        self.busy = False
        self.result_request = request
        self.accept()

    def _failed(self, exc: GavelError) -> None:
        self.busy = False
        self._update()
        self.error.setText(f"The comment was not recorded: {exc.message}")
        self.error.show()

    def reject(self) -> None:
        if not self.busy:
            super().reject()
