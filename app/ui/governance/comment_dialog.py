"""Add a comment to a request's record: a signed ledger event that decides nothing."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from app.domain.governance import PromotionRequest
from app.services.governance import GovernanceService
from app.ui.common.tasks import TaskRunner
from app.ui.governance.sign_dialog import ReasonField, SignDialog


class CommentDialog(SignDialog):
    def __init__(
        self,
        governance: GovernanceService,
        runner: TaskRunner,
        request: PromotionRequest,
        user_id: str,
        parent: QWidget | None = None,
    ) -> None:
        request_id = request.request_id
        super().__init__(
            runner,
            f"Comment on {request.target_text}",
            "Your comment is added to the request's record in the audit ledger, under your "
            "name. It does not approve or reject the request.",
            user_id,
            "Sign comment",
            lambda text, passphrase: governance.comment(request_id, text, passphrase),
            ReasonField("Comment", "e.g. Asked the requester for the bias review reference.", True),
            parent,
        )
        self.request = request

    @property
    def result_request(self) -> PromotionRequest | None:
        return self.result if isinstance(self.result, PromotionRequest) else None
