"""Request promoting a version to an alias (or into an MLflow stage): target,
justification, evidence, and the policy that will decide it. Creating the request runs
in a worker."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.cancel import CancelToken
from app.domain.errors import GavelError
from app.domain.governance import (
    CHECKLIST,
    STAGE_NONE,
    STAGES,
    Policy,
    PromotionRequest,
    policy_for,
    stage_name,
)
from app.domain.portfolio import ModelDetail, VersionRow
from app.domain.progress import ProgressCallback
from app.domain.tags import TAG_RISK_TIER
from app.presentation.ledger_text import checklist_label
from app.services.governance import GovernanceService
from app.services.identity import WrongPassphrase
from app.ui.common.tasks import TaskRunner
from app.ui.common.widgets import error_label
from app.ui.governance.sign_dialog import PassphraseField


def policy_summary(policy: Policy, tier_tag: str) -> str:
    tier = tier_tag.strip().lower()
    which = (
        f"{policy.risk_tier.capitalize()}-risk policy"
        if tier
        else "No risk_tier tag on the model, so the high-risk policy applies"
    )
    n = policy.approvals_required
    need = f"{n} approval{'s' if n > 1 else ''} from {'distinct ' if n > 1 else 'an '}"
    need += policy.required_role.value + ("s" if n > 1 else "")
    evidence = ", ".join(CHECKLIST[c] for c in policy.required_checklist) or "none"
    thresholds = ", ".join(str(t) for t in policy.metric_thresholds) or "none"
    return (
        f"{which}: {need}. Evidence required: {evidence}. Metric thresholds on the "
        f"version's run: {thresholds}."
    )


class RequestPromotionDialog(QDialog):
    """`result_request` holds the created request after accept."""

    def __init__(
        self,
        governance: GovernanceService,
        runner: TaskRunner,
        model: ModelDetail,
        version: VersionRow,
        policies: Mapping[str, Policy],
        user_id: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._governance = governance
        self._runner = runner
        self.model = model
        self.version = version
        self.busy = False
        self.result_request: PromotionRequest | None = None
        tier_tag = model.tags.get(TAG_RISK_TIER, "")
        self.policy = policy_for(tier_tag, policies) if policies else None
        self.setWindowTitle(f"Request promotion of {model.name} v{version.version}")
        self.setMinimumWidth(600)

        headline = QLabel(
            f"Ask for <b>{model.name} v{version.version}</b> (registry {model.registry}) to "
            "become the version an alias points at, or to move into a stage. Approvers "
            "decide; nothing changes in the registry until the approved request is applied."
        )
        headline.setWordWrap(True)

        self.alias = QComboBox()
        self.alias.setEditable(True)
        self.alias.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        for name, held in sorted(model.aliases.items()):
            self.alias.addItem(name)
            self.alias.setItemData(
                self.alias.count() - 1, f"now points at v{held}", Qt.ItemDataRole.ToolTipRole
            )
        if "champion" in model.aliases:
            self.alias.setCurrentText("champion")
        line_edit = self.alias.lineEdit()
        if line_edit is not None:
            line_edit.setPlaceholderText("e.g. champion or production")
        self.alias_hint = QLabel()
        self.alias_hint.setObjectName("Muted")
        # Stages are for registries that still use them (MLflow deprecated them).
        self.target_kind = QComboBox()
        self.target_kind.addItems(["Alias", "Stage"])
        self.stage = QComboBox()
        self.stage.addItems(list(STAGES))
        self.stage.setCurrentText("Production")
        self.stage_hint = QLabel()
        self.stage_hint.setObjectName("Muted")
        self.justification = QPlainTextEdit()
        self.justification.setPlaceholderText(
            "Why this version should serve: what improved, what was validated, for whom."
        )
        self.justification.setFixedHeight(80)
        self._form = form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.addRow("Target", self.target_kind)
        form.addRow("Target alias", self.alias)
        form.addRow("", self.alias_hint)
        form.addRow("Target stage", self.stage)
        form.addRow("", self.stage_hint)
        form.addRow("Justification", self.justification)

        required = set(self.policy.required_checklist) if self.policy else set()
        tier_word = (tier_tag.strip().lower() or "high") + "-risk"
        evidence = QGroupBox(f"Evidence checklist — what approvers will check ({tier_word} model)")
        grid = QGridLayout(evidence)
        self.checklist: dict[str, QLineEdit] = {}
        for row, key in enumerate(CHECKLIST):
            label = QLabel(checklist_label(key))
            field = QLineEdit()
            field.setPlaceholderText("Reference: document id, link or note")
            note = QLabel("required" if key in required else "optional")
            note.setObjectName("RequiredMark" if key in required else "Muted")
            note.setToolTip(
                f"The {tier_word} policy requires it before anyone can approve"
                if key in required
                else "Not required by the policy; helps approvers decide"
            )
            grid.addWidget(label, row, 0)
            grid.addWidget(field, row, 1)
            grid.addWidget(note, row, 2)
            self.checklist[key] = field
            field.textChanged.connect(self._update)
        grid.setColumnStretch(1, 1)
        self.missing_warning = QLabel()
        self.missing_warning.setObjectName("SecretWarning")
        self.missing_warning.setWordWrap(True)
        grid.addWidget(self.missing_warning, len(CHECKLIST), 0, 1, 3)

        policy_box = QGroupBox("Policy that will decide it")
        policy_layout = QVBoxLayout(policy_box)
        self.policy_label = QLabel(
            policy_summary(self.policy, tier_tag)
            if self.policy
            else "The policy could not be read yet; it is applied when approvers decide."
        )
        self.policy_label.setWordWrap(True)
        sod = QLabel(
            "Separation of duties: you cannot approve your own request, and nobody may "
            "approve a version they created or trained."
        )
        sod.setObjectName("Muted")
        sod.setWordWrap(True)
        policy_layout.addWidget(self.policy_label)
        policy_layout.addWidget(sod)

        # A request is a signed ledger event: the requester's key signs it.
        self.passphrase = PassphraseField(user_id)
        sign_form = QFormLayout()
        sign_form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        sign_form.addRow("Your passphrase", self.passphrase)
        self.error = error_label()
        self.buttons = QDialogButtonBox()
        self.submit_button: QPushButton = self.buttons.addButton(
            "Submit request", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.cancel_button: QPushButton = self.buttons.addButton(
            QDialogButtonBox.StandardButton.Cancel
        )
        self.submit_button.clicked.connect(self.submit)
        self.cancel_button.clicked.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(headline)
        layout.addLayout(form)
        layout.addWidget(evidence)
        layout.addWidget(policy_box)
        layout.addLayout(sign_form)
        layout.addWidget(self.error)
        layout.addStretch(1)
        layout.addWidget(self.buttons)

        self.alias.currentTextChanged.connect(self._update)
        self.target_kind.currentTextChanged.connect(self._update)
        self.stage.currentTextChanged.connect(self._update)
        self.justification.textChanged.connect(self._update)
        self.passphrase.edit.textChanged.connect(self._update)
        self._update()

    @property
    def alias_text(self) -> str:
        return self.alias.currentText().strip()

    @property
    def targets_stage(self) -> bool:
        return self.target_kind.currentText() == "Stage"

    def _block_reason(self) -> str:
        if not self.targets_stage:
            if not self.alias_text:
                return "Name the alias this version should become (e.g. champion)."
            if any(c.isspace() for c in self.alias_text) or self.alias_text.lower() == "latest":
                return f"'{self.alias_text}' is not an alias name MLflow accepts."
        if not self.justification.toPlainText().strip():
            return "Write a justification: approvers decide on it."
        if not self.passphrase.text():
            return "Enter your passphrase: the request is signed with your key."
        return ""

    def _update(self) -> None:
        self.error.hide()
        for widget in (self.alias, self.alias_hint):
            self._form.setRowVisible(widget, not self.targets_stage)
        for widget in (self.stage, self.stage_hint):
            self._form.setRowVisible(widget, self.targets_stage)
        now, target = stage_name(self.version.current_stage), self.stage.currentText()
        if now == target:
            self.stage_hint.setText(f"v{self.version.version} is already in stage {target}.")
        else:
            where = "no stage" if now == STAGE_NONE else f"stage {now}"
            self.stage_hint.setText(
                f"v{self.version.version} is now in {where}; other versions in {target} stay there."
            )
        held = self.model.aliases.get(self.alias_text)
        if not self.alias_text:
            self.alias_hint.setText("")
        elif held == self.version.version:
            self.alias_hint.setText(f"'{self.alias_text}' already points at this version.")
        elif held is not None:
            self.alias_hint.setText(f"'{self.alias_text}' now points at v{held}.")
        else:
            self.alias_hint.setText(f"'{self.alias_text}' is a new alias for this model.")
        required = self.policy.required_checklist if self.policy else ()
        missing = [CHECKLIST[k] for k in required if not self.checklist[k].text().strip()]
        self.missing_warning.setText(
            f"Missing required evidence: {', '.join(missing)}. The request can be "
            "submitted, but it cannot be approved without it and cannot be edited later."
            if missing
            else ""
        )
        self.missing_warning.setVisible(bool(missing))
        why = self._block_reason()
        self.submit_button.setEnabled(not why and not self.busy)
        self.submit_button.setToolTip(why or "Record the request in the audit ledger")

    def submit(self) -> None:
        if self.busy or self._block_reason():
            return
        governance = self._governance
        registry, name, version = self.model.registry, self.model.name, self.version.version
        stage = self.stage.currentText() if self.targets_stage else None
        alias = "" if stage else self.alias_text
        justification = self.justification.toPlainText().strip()
        checklist = {k: f.text().strip() for k, f in self.checklist.items() if f.text().strip()}
        passphrase = self.passphrase.text()

        def work(_cancel: CancelToken, _progress: ProgressCallback) -> PromotionRequest:
            return governance.create_request(
                registry,
                name,
                version,
                alias,
                justification,
                checklist,
                passphrase=passphrase,
                stage=stage,
            )

        self.busy = True
        self.submit_button.setText("Submitting…")
        self._update()
        self._runner.run(
            work,
            key=f"request-{id(self)}",
            label="Recording the request",
            on_success=self._created,
            on_failure=self._failed,
        )

    def _created(self, request: PromotionRequest) -> None:
        self.busy = False
        self.result_request = request
        self.accept()

    def _failed(self, exc: GavelError) -> None:
        self.busy = False
        self.submit_button.setText("Submit request")
        self._update()
        if isinstance(exc, WrongPassphrase):
            self.passphrase.wrong(exc.message)
            return
        self.error.setText(f"The request was not recorded: {exc.message}")
        self.error.show()

    def reject(self) -> None:
        if not self.busy:
            super().reject()
