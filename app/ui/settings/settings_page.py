"""Settings: where this profile's audit ledger lives and how fresh it is, joining a
team's shared ledger, and where secrets are kept.

Joining changes profile.toml only; the running console keeps the ledger it opened,
so the page says to restart rather than pretend the switch happened. A profile whose
own ledger holds events is refused with the service's sentence (export it, or use a
new profile): a ledger is never thrown away.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.cancel import CancelToken
from app.domain.errors import GavelError
from app.domain.progress import ProgressCallback
from app.services.team_setup import join_team
from app.ui.common.context import ConsoleContext
from app.ui.common.host import Host
from app.ui.common.tasks import TaskRunner
from app.ui.common.widgets import show_outcome

SETTINGS_PAGE = "settings"
JOIN_TASK = "team-join"


def _selectable(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class SettingsPage(QWidget):
    def __init__(self, ctx: ConsoleContext, runner: TaskRunner) -> None:
        super().__init__()
        self.ctx = ctx
        self.runner = runner

        ledger_box = QGroupBox("Audit ledger")
        self.ledger_mode = _selectable()
        self.ledger_mode.setObjectName("SectionTitle")
        self.ledger_detail = _selectable()
        self.ledger_detail.setObjectName("Muted")
        ledger_layout = QVBoxLayout(ledger_box)
        ledger_layout.addWidget(self.ledger_mode)
        ledger_layout.addWidget(self.ledger_detail)

        join_box = QGroupBox("Join a team ledger")
        intro = _selectable(
            "A team shares one ledger in PostgreSQL: every desktop writes its signed events "
            "there and keeps a verified replica here for offline review. Give the database "
            "URL without a password; the password goes to the system keyring."
        )
        self.url = QLineEdit()
        self.url.setPlaceholderText("postgresql+psycopg://ledger.example.com/gavel")
        self.user = QLineEdit()
        self.user.setPlaceholderText("the database user (optional)")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.join_button = QPushButton("Join team ledger")
        self.join_button.clicked.connect(self.join)
        self.outcome = _selectable()
        self.outcome.hide()
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.addRow("Database URL", self.url)
        form.addRow("User", self.user)
        form.addRow("Password", self.password)
        form.addRow("", self.join_button)
        join_layout = QVBoxLayout(join_box)
        join_layout.addWidget(intro)
        join_layout.addLayout(form)
        join_layout.addWidget(self.outcome)
        self.join_box = join_box

        secrets_box = QGroupBox("Secrets")
        self.secrets = _selectable()
        QVBoxLayout(secrets_box).addWidget(self.secrets)

        layout = QVBoxLayout(self)
        layout.addWidget(ledger_box)
        layout.addWidget(join_box)
        layout.addWidget(secrets_box)
        layout.addStretch(1)
        self.url.textChanged.connect(self._update)
        self.refresh()

    def refresh(self) -> None:
        """Re-read the team status (cheap: it holds no network call)."""
        status = self.ctx.team_status()
        paths = self.ctx.paths
        if status.team:
            self.ledger_mode.setText(f"Team ledger at {status.where}")
            fresh = "reachable" if status.online and not status.problem else "not reachable"
            self.ledger_detail.setText(
                f"The shared ledger is {fresh}; this computer's replica is {status.as_of()}."
                + (f" {status.problem}" if status.problem else "")
            )
        elif self.ctx.session is not None:
            self.ledger_mode.setText("The bundle's ledger (audit session, read-only)")
            self.ledger_detail.setText(
                "The audit ledger copied in the bundle, verified when it was opened. Nothing "
                "can be recorded in it; findings are kept in your own profile."
            )
        else:
            self.ledger_mode.setText("Solo ledger (this computer only)")
            self.ledger_detail.setText(
                f"Kept in {paths.config_dir}. Nobody else's approvals can reach it: for "
                "separation of duties between people, join a team ledger."
            )
        self.secrets.setText(self.ctx.credentials.describe())
        self._team = status.team
        self._update()

    def _update(self) -> None:
        busy = self.runner.is_running(JOIN_TASK)
        if self.ctx.session is not None:
            why = "An audit session joins no team ledger."
        elif self._team:
            why = "This profile already uses a team ledger."
        elif not self.url.text().strip():
            why = "Enter the team ledger's database URL."
        else:
            why = ""
        self.join_button.setEnabled(not why and not busy)
        self.join_button.setToolTip(why or "Check the connection and point this profile at it")

    def join(self) -> None:
        if not self.join_button.isEnabled():
            return
        ctx = self.ctx
        url, user, password = (
            self.url.text().strip(),
            self.user.text().strip(),
            self.password.text(),
        )

        def work(_cancel: CancelToken, _progress: ProgressCallback) -> str:
            return join_team(ctx.identity, ctx.credentials, ctx.audit.store, url, user, password)

        self.outcome.hide()
        self.join_button.setText("Joining…")
        self.runner.run(
            work,
            key=JOIN_TASK,
            label="Joining the team ledger",
            on_success=self._joined,
            on_failure=self._failed,
        )
        self._update()

    def _joined(self, where: str) -> None:
        self.join_button.setText("Join team ledger")
        self.password.clear()
        warning = "" if self.ctx.credentials.persistent else f" {self.ctx.credentials.describe()}"
        show_outcome(
            self.outcome,
            f"This profile now uses the team ledger at {where}. Restart Gavel to work on it."
            + warning,
            error=False,
        )
        self._team = True
        self._update()

    def _failed(self, exc: GavelError) -> None:
        self.join_button.setText("Join team ledger")
        show_outcome(self.outcome, f"Not joined: {exc.message}", error=True)
        self._update()


class SettingsUi:
    """Registers the Settings page through the host."""

    def __init__(self, host: Host, ctx: ConsoleContext, runner: TaskRunner) -> None:
        self.page = SettingsPage(ctx, runner)
        host.add_page(
            SETTINGS_PAGE,
            "Settings",
            self.page,
            tooltip="Where the audit ledger lives (solo or team), and where secrets are kept",
        )
        host.on_page_shown(lambda key: self.page.refresh() if key == SETTINGS_PAGE else None)
        # Said once a session: registry secrets typed now will not outlive it (or, with
        # allow_plaintext_keyring, sit unencrypted in a file).
        # Secrets that will be lost get a banner until dismissed; ones the user chose to
        # keep in a plaintext file get a status message (they opted in).
        credentials = ctx.credentials
        if not credentials.persistent:
            host.after_first_paint(lambda: host.show_notice(credentials.describe()))
        elif "unencrypted" in credentials.describe():
            host.after_first_paint(lambda: host.show_status(credentials.describe(), 15_000))
