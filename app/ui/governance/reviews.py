"""Periodic reviews in the model's Governance tab: when the version in production is
due for review (or overdue), and "Record review…", signed through the signing step."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QWidget

from app.domain.cancel import CancelToken
from app.domain.ledger import LedgerEvent
from app.domain.portfolio import ModelDetail
from app.domain.progress import ProgressCallback
from app.domain.review_schedule import ReviewDue, ReviewState
from app.services.governance_inbox import GovernanceData, sign_block_reason
from app.ui.common.context import ConsoleContext
from app.ui.common.tasks import Lane, TaskRunner
from app.ui.governance.alias_history import ModelGovernancePanel
from app.ui.governance.sign_dialog import ReasonField, SignDialog

REVIEW_TASK = "governance-review-due"


def review_text(due: ReviewDue | None) -> str:
    """The review line of a model: its production version's next review, in words."""
    if due is None:
        return "No version of this model serves production, so no periodic review is due."
    v, last = due.version, due.last_review
    when = "" if due.due_at is None else f"{due.due_at:%Y-%m-%d}"
    head = {
        ReviewState.OVERDUE: f"⚠ Review of v{v.version} overdue"
        + (f" by {-due.days_left} day(s) (due {when})" if when else ""),
        ReviewState.DUE: f"Review of v{v.version} due in {due.days_left} day(s) ({when})",
        ReviewState.CURRENT: f"Next review of v{v.version}: {when}",
    }[due.state]
    since = (
        f"last reviewed {last.at:%Y-%m-%d} by {last.reviewer}"
        if last is not None
        else f"never reviewed; counted from its {due.counted_from.value}"
    )
    return (
        f"{head}. {due.tier.title()} risk: every {due.interval_days} days; {since} ({v.served_by})."
    )


class ReviewLink(QObject):
    """Keeps the panel's review line current and records reviews, signed."""

    def __init__(
        self,
        ctx: ConsoleContext,
        runner: TaskRunner,
        panel: ModelGovernancePanel,
        data: Callable[[], GovernanceData],
        wrote: Callable[[], None],
        dialog_parent: QWidget,
    ) -> None:
        super().__init__(panel)
        self._ctx = ctx
        self._runner = runner
        self._panel = panel
        self._data = data
        self._wrote = wrote
        self._parent = dialog_parent
        self.model: ModelDetail | None = None
        self.due: ReviewDue | None = None
        self.dialog: SignDialog | None = None
        panel.record_review.connect(self.open_record)

    def show_model(self, model: ModelDetail | None) -> None:
        """Re-read the review date of this model's production version (on a worker)."""
        self.model = model
        if model is None:
            self.due = None
            self._panel.set_review("", False, "Select a model first.")
            return
        reviews, key = self._ctx.reviews, (model.registry, model.name)

        def work(_cancel: CancelToken, _progress: ProgressCallback) -> list[ReviewDue]:
            return [d for d in reviews.schedule() if (d.version.registry, d.version.model) == key]

        self._runner.run(
            work,
            key=REVIEW_TASK,
            lane=Lane.LEDGER,
            label="Reading the review schedule",
            on_success=lambda found: self._loaded(key, found),
            on_failure=lambda exc: self._panel.set_review(
                f"The review date could not be read: {exc.message}", False, exc.message
            ),
        )

    def _loaded(self, key: tuple[str, str], found: list[ReviewDue]) -> None:
        if self.model is None or (self.model.registry, self.model.name) != key:
            return  # the user moved on to another model
        self.due = found[0] if found else None
        why = sign_block_reason(self._data()) if self._data().loaded else "Reading the ledger…"
        if self.due is None:
            why = "No version of this model serves production."
        self._panel.set_review(review_text(self.due), not why, why)

    def open_record(self) -> None:
        due, me = self.due, self._data().me
        if due is None or me is None or self.dialog is not None:
            return
        v, reviews = due.version, self._ctx.reviews
        dialog = SignDialog(
            self._runner,
            f"Record the review of {v.model} v{v.version}?",
            f"You attest that <b>{v.model} v{v.version}</b> ({v.registry}, {v.served_by}) is "
            "<b>still fit for purpose</b>. Its next review then counts from today. Say what "
            "you checked; evidence references (e.g. a report id) help auditors.",
            me.user_id,
            "Sign review",
            lambda reason, passphrase: reviews.record(
                v.registry, v.model, v.version, reason, passphrase
            ),
            ReasonField(
                "What was reviewed",
                "e.g. Q3 drift and fairness metrics checked (report MR-114); no change needed.",
                True,
            ),
            self._parent,
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _r: self._closed(dialog))
        self.dialog = dialog
        dialog.open()

    def _closed(self, dialog: SignDialog) -> None:
        self.dialog = None
        if isinstance(dialog.result, LedgerEvent):
            self._wrote()
            self.show_model(self.model)
