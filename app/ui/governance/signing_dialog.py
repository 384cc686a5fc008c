"""Approve or reject with an electronic signature (21 CFR Part 11 style).

The dialog shows exactly what is signed — readably and as the canonical JSON the
ledger records — with the signature's manifestation (printed name, user id, UTC date
and time, meaning). Signing needs the person's passphrase; a wrong one signs nothing
and says so next to the field. Signing runs in a worker.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import rfc8785
from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.domain.cancel import CancelToken
from app.domain.errors import GavelError
from app.domain.governance import PromotionRequest, SignatureMeaning
from app.domain.progress import ProgressCallback
from app.presentation.formatting import from_ms, utc_text
from app.services.governance import GovernanceService
from app.services.identity import WrongPassphrase
from app.services.outbox import OutboxEntry, OutboxService
from app.ui.common.tasks import TaskRunner
from app.ui.common.widgets import error_label
from app.ui.governance.request_detail import RequestDetail
from app.ui.governance.sign_dialog import PassphraseField

PART11_STATEMENT = (
    "Signing with your passphrase is the legally binding equivalent of your handwritten signature."
)

_MEANING_WORDS = {
    SignatureMeaning.APPROVAL: ("Approve", "approval", "Sign approval"),
    SignatureMeaning.REJECTION: ("Reject", "rejection", "Sign rejection"),
}


def canonical_manifest(manifest: Mapping[str, Any]) -> str:
    """The manifest as RFC 8785 canonical JSON: the form the ledger hashes."""
    text: str = rfc8785.dumps(dict(manifest)).decode("utf-8")
    return text


def _selectable(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class SigningDialog(QDialog):
    """Sign an approval or a rejection of one request; `result` holds the updated request."""

    def __init__(
        self,
        governance: GovernanceService,
        runner: TaskRunner,
        detail: RequestDetail,
        meaning: SignatureMeaning,
        parent: QWidget | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        outbox: OutboxService | None = None,
    ) -> None:
        """outbox: where the decision goes while the team ledger is out of reach."""
        super().__init__(parent)
        if meaning not in _MEANING_WORDS or detail.me is None or meaning not in detail.manifests:
            raise ValueError("signing needs an identity and an approval or rejection manifest")
        self._governance = governance
        self._runner = runner
        self._clock = clock
        self.meaning = meaning
        self.detail = detail
        self.manifest = dict(detail.manifests[meaning])
        self.result_request: PromotionRequest | None = None
        # Set instead when the decision was signed into the outbox.
        self.result_entry: OutboxEntry | None = None
        self._outbox_service = outbox
        self._outbox = outbox if outbox is not None and outbox.collecting else None
        self.busy = False
        verb, noun, sign_text = _MEANING_WORDS[meaning]
        request = detail.view.request
        self.setWindowTitle(f"{verb} promotion {request.target_text}")
        self.setMinimumWidth(720)

        headline = QLabel(
            f"You are about to sign the <b>{noun}</b> of promoting "
            f"<b>{request.identity.model} v{request.identity.version}</b> to "
            f"<b>{request.target_name}</b> in {request.identity.registry}."
        )
        headline.setWordWrap(True)

        # -- what is signed
        signed_box = QGroupBox("What you are signing")
        signed_layout = QVBoxLayout(signed_box)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        signed_layout.addLayout(form)
        version = self.manifest.get("version", {})
        created = from_ms(version.get("creation_timestamp"))
        for label, value in (
            ("Request", f"{self.manifest.get('request_id')}"),
            ("Request record (SHA-256)", str(self.manifest.get("request_hash"))),
            ("Registry", str(version.get("registry"))),
            ("Model", str(version.get("model"))),
            ("Version", f"v{version.get('version')}"),
            ("Run", str(version.get("run_id") or "not from a tracked run")),
            ("Source", str(version.get("source") or "—")),
            ("Version created", utc_text(created) if created else "not recorded"),
            ("Target", request.target_name),
            ("Evidence digest", f"SHA-256 {self.manifest.get('evidence_digest')}"),
        ):
            value_label = _selectable(value)
            # Hashes and ids are one unbroken word: wrapping would only clip them.
            value_label.setWordWrap(False)
            form.addRow(label, value_label)
        evidence_label = form.labelForField(value_label)
        if evidence_label is not None:
            evidence_label.setToolTip(
                "SHA-256 of the version's run metrics and dataset digests at request time: "
                "if they change, the approval does not carry over"
            )
        self.canonical = QPlainTextEdit(canonical_manifest(self.manifest))
        self.canonical.setObjectName("CanonicalJson")
        self.canonical.setReadOnly(True)
        self.canonical.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.canonical.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.canonical.setFixedHeight(104)
        canonical_title = QLabel("Canonical JSON (RFC 8785) recorded in the ledger:")
        canonical_title.setObjectName("SectionTitle")
        signed_layout.addWidget(canonical_title)
        signed_layout.addWidget(self.canonical)
        note = QLabel(
            "The ledger event that records your signature holds exactly this JSON, plus "
            "the time of signing"
            + (" and whether your approval completes the policy" if noun == "approval" else "")
            + "; your signature covers that whole event."
        )
        note.setObjectName("Muted")
        note.setWordWrap(True)
        signed_layout.addWidget(note)
        self.outbox_note = QLabel(
            "<b>The team ledger cannot be reached.</b> Your signature is kept in this "
            "computer's outbox and sent when Gavel next reaches the ledger. It counts then "
            "only if the request is still pending under the same policy; otherwise it is "
            "recorded as superseded and you are told why."
        )
        self.outbox_note.setObjectName("OutboxNote")
        self.outbox_note.setWordWrap(True)
        self.outbox_note.setVisible(self._outbox is not None)

        # -- the signature's manifestation (21 CFR 11.50)
        sig_box = QGroupBox("Your signature")
        sig_form = QFormLayout()
        sig_form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        manifestation = self.manifest.get("manifestation", {})
        self.printed_name = _selectable(str(manifestation.get("printed_name")))
        self.user_id = _selectable(str(manifestation.get("user_id")))
        self.when = _selectable()
        self.meaning_label = _selectable(noun.capitalize())
        sig_form.addRow("Printed name", self.printed_name)
        sig_form.addRow("User ID", self.user_id)
        sig_form.addRow("Date and time (UTC)", self.when)
        sig_form.addRow("Meaning", self.meaning_label)
        self.statement = QLabel(PART11_STATEMENT)
        self.statement.setObjectName("Part11Statement")
        self.statement.setWordWrap(True)
        sig_layout = QVBoxLayout(sig_box)
        sig_layout.addLayout(sig_form)
        sig_layout.addWidget(self.statement)

        self.comment = QPlainTextEdit()
        self.comment.setFixedHeight(64)
        self.comment.setPlaceholderText(
            "Say why you reject it (required)"
            if meaning is SignatureMeaning.REJECTION
            else "Optional: what you checked"
        )
        # The same field every signing step uses; its edit and error line keep the names
        # this dialog always gave them.
        self.passphrase_field = PassphraseField(str(manifestation.get("user_id")))
        self.passphrase = self.passphrase_field.edit
        self.passphrase_error = self.passphrase_field.error
        input_form = QFormLayout()
        input_form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        input_form.addRow(
            "Reason (required)" if meaning is SignatureMeaning.REJECTION else "Comment",
            self.comment,
        )
        input_form.addRow("Passphrase", self.passphrase_field)

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

        # What is signed scrolls; the passphrase and the buttons never leave the screen.
        # At 1024x640 the whole dialog is taller than the screen and rows clipped.
        body = QWidget()
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(0, 0, 0, 0)
        body_layout.addWidget(headline)
        body_layout.addWidget(signed_box)
        body_layout.addWidget(sig_box)
        self.signed_scroll = QScrollArea()
        self.signed_scroll.setObjectName("SignedContent")
        self.signed_scroll.setWidgetResizable(True)
        self.signed_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.signed_scroll.setWidget(body)
        self._body = body
        layout = QVBoxLayout(self)
        # Where the signature goes is read before anything else, never scrolled away.
        layout.addWidget(self.outbox_note)
        layout.addWidget(self.signed_scroll, 1)
        layout.addLayout(input_form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

        self.comment.textChanged.connect(self._inputs_changed)
        self.passphrase.textChanged.connect(self._inputs_changed)
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._update_time)
        self._tick.start()
        self._update_time()
        self._update_enabled()
        self.passphrase.setFocus()

    def sizeHint(self) -> QSize:
        """Tall enough for everything, but never taller than the screen it is on."""
        hint = super().sizeHint()
        wanted = (
            hint.height() - self.signed_scroll.sizeHint().height() + self._body.sizeHint().height()
        )
        screen = self.screen()
        limit = screen.availableGeometry().height() - 40 if screen is not None else wanted
        # Wide enough that hashes, which never wrap, need no sideways scrolling.
        layout = self.layout()
        margins = layout.contentsMargins().left() * 2 if layout is not None else 0
        scrollbar = self.signed_scroll.verticalScrollBar().sizeHint().width()
        body_width = self._body.sizeHint().width() + scrollbar + margins
        return QSize(max(hint.width(), body_width), min(wanted + 8, limit))

    # -- state -------------------------------------------------------------------------

    def _update_time(self) -> None:
        self.when.setText(
            self._clock().astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            + "  (recorded when you sign)"
        )

    def _block_reason(self) -> str:
        if self.meaning is SignatureMeaning.REJECTION and not self.comment.toPlainText().strip():
            return "A rejection needs a reason: say why in the Reason field."
        if not self.passphrase.text():
            return "Enter your passphrase to sign."
        return ""

    def _update_enabled(self) -> None:
        why = self._block_reason()
        self.sign_button.setEnabled(not why and not self.busy)
        self.sign_button.setToolTip(why or "Sign with your key; this is recorded in the ledger")

    def _inputs_changed(self) -> None:
        self._update_enabled()

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        for widget in (self.comment, self.passphrase_field, self.cancel_button):
            widget.setEnabled(not busy)
        self.sign_button.setText("Signing…" if busy else _MEANING_WORDS[self.meaning][2])
        self._update_enabled()

    # -- signing ---------------------------------------------------------------------

    def sign(self) -> None:
        if self.busy or self._block_reason():
            return
        governance = self._governance
        request_id = self.detail.view.request.request_id
        comment = self.comment.toPlainText().strip()
        passphrase = self.passphrase.text()
        meaning = self.meaning

        outbox = self._outbox_service

        def work(_cancel: CancelToken, _progress: ProgressCallback) -> object:
            # Into the outbox while the team ledger is out of reach, including when it
            # turns out to be so only now.
            if outbox is not None:
                return outbox.sign_decision(request_id, meaning, comment, passphrase)
            return governance.decide(request_id, meaning, comment, passphrase)

        self.error.hide()
        self.passphrase_error.hide()
        self._set_busy(True)
        self._runner.run(
            work,
            key=f"sign-{id(self)}",
            label="Signing",
            on_success=self._signed,
            on_failure=self._failed,
        )

    def _signed(self, result: object) -> None:
        self._set_busy(False)
        if isinstance(result, OutboxEntry):
            self.result_entry = result
        elif isinstance(result, PromotionRequest):
            self.result_request = result
        self._tick.stop()
        self.accept()

    def _failed(self, exc: GavelError) -> None:
        self._set_busy(False)
        if isinstance(exc, WrongPassphrase):
            self.passphrase_field.wrong(exc.message)
        else:
            self.error.setText(f"Not signed: {exc.message}")
            self.error.show()

    def reject(self) -> None:
        if self.busy:
            return  # a signature being written cannot be taken back half way
        self._tick.stop()
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.busy:
            event.ignore()
            return
        super().closeEvent(event)
