"""Add a comment to a request's record: a signed ledger event that decides nothing."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from app.domain.governance import PromotionRequest
from app.services.governance import GovernanceService
from app.services.outbox import OutboxEntry, OutboxService
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
        outbox: OutboxService | None = None,
    ) -> None:
        """outbox: where the comment goes while the team ledger is out of reach."""
        request_id = request.request_id
        offline = outbox if outbox is not None and outbox.collecting else None

        def sign(text: str, passphrase: str) -> object:
            if outbox is not None:
                return outbox.sign_comment(request_id, text, passphrase)
            return governance.comment(request_id, text, passphrase)

        super().__init__(
            runner,
            f"Comment on {request.target_text}",
            "Your comment is added to the request's record in the audit ledger, under your "
            "name. It does not approve or reject the request."
            + (
                " <b>The team ledger cannot be reached:</b> it waits in this computer's "
                "outbox and is sent when Gavel next reaches the ledger."
                if offline is not None
                else ""
            ),
            user_id,
            "Sign comment",
            sign,
            ReasonField("Comment", "e.g. Asked the requester for the bias review reference.", True),
            parent,
        )
        self.request = request

    @property
    def result_request(self) -> PromotionRequest | None:
        return self.result if isinstance(self.result, PromotionRequest) else None

    @property
    def result_entry(self) -> OutboxEntry | None:
        return self.result if isinstance(self.result, OutboxEntry) else None
