"""Add or edit a registry: connection settings, where its secret lives, and a
'Test connection' that runs in the background."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import GavelError, UsageError
from app.domain.registry import (
    AuthKind,
    ConnectionReport,
    RegistryConfig,
    reject_registry_url_credentials,
)
from app.services.registries import RegistryService
from app.ui.common.resources import icon
from app.ui.common.tasks import TaskHandle, TaskRunner
from app.ui.common.widgets import error_label

_AUTH_CHOICES = (
    (AuthKind.NONE, "None"),
    (AuthKind.BASIC, "Basic (username and password)"),
    (AuthKind.BEARER, "Bearer token"),
)


def report_is_success(report: ConnectionReport) -> bool:
    return report.reachable and report.is_mlflow and report.auth_ok


def report_text(report: ConnectionReport, auth: AuthKind = AuthKind.BASIC) -> str:
    """The connector's sentence (said for this dialog), then the checks one by one.

    auth: what the settings tested send; with none, credentials were "not needed" when
    the registry answered, and "needed" when it asked for some."""
    if not report.reachable:
        return in_dialog(report.message)
    if auth is AuthKind.NONE:
        credentials = "not needed" if report.auth_ok else "needed (choose how to authenticate)"
    else:
        credentials = "yes" if report.auth_ok else "no"
    checks = [
        "Reachable: yes",
        f"MLflow: {report.server_version or 'yes'}" if report.is_mlflow else "MLflow: no",
        f"Credentials accepted: {credentials}",
    ]
    return f"{in_dialog(report.message)}\n{' · '.join(checks)}"


def in_dialog(message: str) -> str:
    """A connector's hint, said to someone already in this dialog: the fields are here,
    not behind Registry → Edit…"""
    return (
        message.replace("open Registry → Edit… and check", "check, in this dialog,")
        .replace("open Registry → Edit… and enter", "enter")
        .replace("raise the timeout in Registry → Edit…", "raise the Timeout above")
        .replace("correct it in Registry → Edit…", "correct it above")
    )


ConfirmSave = Callable[[QWidget, str, str], bool]


def ask_to_save_anyway(parent: QWidget, title: str, text: str) -> bool:
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, parent=parent)
    save = box.addButton("Save anyway", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return box.clickedButton() is save


class RegistryDialog(QDialog):
    """Add (cfg None) or edit a registry; saves through RegistryService on OK."""

    def __init__(
        self,
        registries: RegistryService,
        runner: TaskRunner,
        cfg: RegistryConfig | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._registries = registries
        self._runner = runner
        self._original = cfg
        self._test: TaskHandle | None = None
        self._tested_auth = AuthKind.NONE
        self.saved: RegistryConfig | None = None
        # Asked before saving settings whose Test connection failed (tests replace it).
        self.confirm_save: ConfirmSave = ask_to_save_anyway
        self.setWindowTitle(f"Edit registry “{cfg.name}”" if cfg else "Add a registry")
        self.setMinimumWidth(520)

        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. prod-registry")
        self.url = QLineEdit()
        self.url.setPlaceholderText("https://mlflow.example.com")
        self.auth = QComboBox()
        for kind, label in _AUTH_CHOICES:
            # The plain value: Qt hands a str subclass back as a plain str.
            self.auth.addItem(label, kind.value)
        self.username = QLineEdit()
        self.secret_stored = QRadioButton("Store it in the system keyring")
        self.secret_from_env = QRadioButton("Read it from an environment variable")
        self._secret_mode = QButtonGroup(self)
        self._secret_mode.addButton(self.secret_stored)
        self._secret_mode.addButton(self.secret_from_env)
        self.secret_stored.setChecked(True)
        self.secret = QLineEdit()
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret_env = QLineEdit()
        self.secret_env.setPlaceholderText("e.g. MLFLOW_TRACKING_TOKEN")
        self.secret_warning = QLabel()
        self.secret_warning.setObjectName("SecretWarning")
        self.secret_warning.setWordWrap(True)
        self.verify_tls = QCheckBox("Verify the server's TLS certificate")
        self.verify_tls.setChecked(True)
        self.timeout = QDoubleSpinBox()
        self.timeout.setRange(1.0, 300.0)
        self.timeout.setSuffix(" s")
        self.timeout.setDecimals(0)
        self.timeout.setValue(RegistryConfig.timeout_s)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.addRow("Name", self.name)
        form.addRow("URL", self.url)
        form.addRow("Authentication", self.auth)
        form.addRow("Username", self.username)
        self._secret_label = QLabel("Password")
        secret_box = QWidget()
        secret_layout = QVBoxLayout(secret_box)
        secret_layout.setContentsMargins(0, 0, 0, 0)
        secret_layout.addWidget(self.secret_stored)
        secret_layout.addWidget(self.secret)
        secret_layout.addWidget(self.secret_from_env)
        secret_layout.addWidget(self.secret_env)
        secret_layout.addWidget(self.secret_warning)
        form.addRow(self._secret_label, secret_box)
        self._secret_box = secret_box
        form.addRow("", self.verify_tls)
        form.addRow("Timeout", self.timeout)
        self._form = form

        self.error = error_label()

        self.test_button = QPushButton(icon("sync"), "Test connection")
        self.test_button.clicked.connect(self.test_connection)
        self.result_label = QLabel()
        self.result_label.setObjectName("ConnectionResult")
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result_label.hide()
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addStretch(1)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addLayout(test_row)
        layout.addWidget(self.result_label)
        layout.addStretch(1)
        layout.addWidget(self.buttons)

        if cfg is not None:
            self._load(cfg)
        if not registries.secrets_persistent:
            self.secret_warning.setText(registries.secrets_description())
        for widget in (self.name, self.url, self.username, self.secret, self.secret_env):
            widget.textChanged.connect(self._inputs_changed)
        self.auth.currentIndexChanged.connect(self._inputs_changed)
        self.secret_stored.toggled.connect(self._inputs_changed)
        self.verify_tls.toggled.connect(self._inputs_changed)
        self._update_enabled()
        self.finished.connect(self._drop_test)

    # -- form state ----------------------------------------------------------------

    def _load(self, cfg: RegistryConfig) -> None:
        self.name.setText(cfg.name)
        self.url.setText(cfg.url)
        self.auth.setCurrentIndex(max(0, self.auth.findData(cfg.auth.value)))
        self.username.setText(cfg.username)
        if cfg.secret_env:
            self.secret_from_env.setChecked(True)
            self.secret_env.setText(cfg.secret_env)
        self.verify_tls.setChecked(cfg.verify_tls)
        self.timeout.setValue(cfg.timeout_s)
        if cfg.is_demo:
            # The demo's URL changes at every start; it is managed, not edited.
            self.url.setReadOnly(True)
            self.url.setToolTip("The demo registry's address is set each time it starts.")

    @property
    def auth_kind(self) -> AuthKind:
        try:
            return AuthKind(self.auth.currentData())
        except ValueError:
            return AuthKind.NONE

    def _update_enabled(self) -> None:
        kind = self.auth_kind
        needs_secret = kind is not AuthKind.NONE
        self.username.setEnabled(kind is AuthKind.BASIC)
        self._secret_label.setText("Token" if kind is AuthKind.BEARER else "Password")
        # Only the fields the chosen authentication uses are shown.
        self._form.setRowVisible(self.username, kind is AuthKind.BASIC)
        self._form.setRowVisible(self._secret_box, needs_secret)
        self.secret_env.setPlaceholderText(
            "e.g. MLFLOW_TRACKING_TOKEN"
            if kind is AuthKind.BEARER
            else "e.g. MLFLOW_TRACKING_PASSWORD"
        )
        self.secret_stored.setText(
            "Store it in the system keyring"
            if self._registries.secrets_persistent
            else "Keep it for this session"
        )
        stored = self.secret_stored.isChecked()
        self.secret.setEnabled(needs_secret and stored)
        self.secret_env.setEnabled(needs_secret and not stored)
        editing_same_secret = (
            self._original is not None
            and self._original.auth is not AuthKind.NONE
            and not self._original.secret_env
        )
        self.secret.setPlaceholderText(
            "Leave empty to keep the stored secret" if editing_same_secret else ""
        )
        self.secret_warning.setVisible(needs_secret and stored and bool(self.secret_warning.text()))

    def _inputs_changed(self) -> None:
        self._update_enabled()
        self.error.hide()
        try:
            # Said as soon as it is typed, not at Save: the password is already on screen.
            reject_registry_url_credentials(self.url.text().strip())
        except UsageError as exc:
            self.show_error(exc.message)
        # A result is about the settings it tested; after an edit it would mislead.
        self._drop_test()
        self.result_label.hide()

    def config(self) -> RegistryConfig:
        """The settings as typed; raises UsageError with a sentence when they are wrong."""
        kind = self.auth_kind
        from_env = kind is not AuthKind.NONE and self.secret_from_env.isChecked()
        env_name = self.secret_env.text().strip() if from_env else ""
        if from_env and not env_name:
            raise UsageError("Name the environment variable that holds the secret.")
        return RegistryConfig(
            name=self.name.text().strip(),
            url=self.url.text().strip(),
            auth=kind,
            username=self.username.text().strip() if kind is AuthKind.BASIC else "",
            secret_env=env_name,
            verify_tls=self.verify_tls.isChecked(),
            ca_bundle=self._original.ca_bundle if self._original else "",
            timeout_s=self.timeout.value(),
            is_demo=self._original.is_demo if self._original else False,
        )

    def typed_secret(self) -> str | None:
        """The secret typed in the dialog; None means 'use the stored or env one'."""
        if self.auth_kind is AuthKind.NONE or self.secret_from_env.isChecked():
            return None
        return self.secret.text() or None

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()

    # -- test connection -----------------------------------------------------------

    def test_connection(self) -> None:
        try:
            cfg = self.config()
        except UsageError as exc:
            self.show_error(exc.message)
            return
        secret = self.typed_secret()
        if secret is None and self._original is not None and cfg.name != self._original.name:
            # The stored secret is still filed under the old name until saved.
            cfg_for_secret = self._original
        else:
            cfg_for_secret = None
        registries = self._registries

        def probe(_cancel: object, _progress: object) -> ConnectionReport:
            if secret is None and cfg_for_secret is not None:
                stored = registries.resolve_secret(cfg_for_secret)
                return registries.test_connection(cfg, stored)
            return registries.test_connection(cfg, secret)

        self._tested_auth = cfg.auth
        self._set_result("pending", f"Testing the connection to {cfg.url}…")
        self.test_button.setEnabled(False)
        self._test = self._runner.run(
            probe,
            key=f"test-connection-{id(self)}",
            label="Testing connection",
            on_success=self._tested,
            on_failure=lambda exc: self._set_failure(exc.message),
        )

    def _tested(self, report: ConnectionReport) -> None:
        self._test = None
        self.test_button.setEnabled(True)
        kind = "success" if report_is_success(report) else "failure"
        self._set_result(kind, report_text(report, self._tested_auth))

    def _set_failure(self, message: str) -> None:
        self._test = None
        self.test_button.setEnabled(True)
        self._set_result("failure", in_dialog(message))

    def _set_result(self, kind: str, text: str) -> None:
        self.result_label.setProperty("kind", kind)
        prefix = {"success": "✓ ", "failure": "✗ "}.get(kind, "")
        self.result_label.setText(prefix + text)
        self.result_label.style().unpolish(self.result_label)
        self.result_label.style().polish(self.result_label)
        self.result_label.show()

    @property
    def result_kind(self) -> str:
        return str(self.result_label.property("kind")) if self.result_label.isVisible() else ""

    def _drop_test(self) -> None:
        if self._test is not None:
            self._runner.discard(self._test)
            self._test = None
            self.test_button.setEnabled(True)

    # -- save ----------------------------------------------------------------------

    def _check_secret_given(self, cfg: RegistryConfig) -> None:
        if cfg.auth is AuthKind.NONE or cfg.secret_env or self.typed_secret():
            return
        old = self._original
        if old is not None and old.auth is not AuthKind.NONE and not old.secret_env:
            return  # keeps the secret already stored
        what = "token" if cfg.auth is AuthKind.BEARER else "password"
        raise UsageError(f"Enter the {what}, or choose to read it from an environment variable.")

    def save(self) -> None:
        try:
            cfg = self.config()
            self._check_secret_given(cfg)
        except GavelError as exc:
            self.show_error(exc.message)
            return
        if self.result_kind == "failure" and not self.confirm_save(
            self,
            "Save a registry that did not answer?",
            f"The connection test of “{cfg.name}” failed:\n\n"
            f"{self.result_label.text().removeprefix('✗ ')}\n\n"
            "Save these settings anyway? The registry will show as offline until it "
            "answers.",
        ):
            return
        try:
            if self._original is None:
                self._registries.add(cfg, self.typed_secret())
            else:
                self._registries.update(self._original.name, cfg, self.typed_secret())
        except GavelError as exc:
            self.show_error(exc.message)
            return
        self.saved = cfg
        self.accept()
