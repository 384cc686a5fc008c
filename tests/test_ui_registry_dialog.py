"""Add/Edit registry dialog: Test connection in the background, inline validation,
secret handling, save."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.bootstrap import AppContext
from app.domain.errors import SecretUnavailable
from app.domain.registry import AuthKind, ConnectionReport, RegistryConfig
from app.services.registries import RegistryService
from app.ui.common.resources import stylesheet
from app.ui.common.tasks import TaskRunner
from app.ui.portfolio.registry_dialog import RegistryDialog, in_dialog, report_text
from tests.fixtures.mlflow import MlflowRegistry
from tests.ui_helpers import dead_url, make_context, no_leaks, save_screenshot

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("no_leaks")]
__all__ = ["no_leaks"]

TEST_TIMEOUT_MS = 30_000


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[AppContext]:
    context = make_context(tmp_path / "home")
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def runner() -> Iterator[TaskRunner]:
    tasks = TaskRunner()
    try:
        yield tasks
    finally:
        assert tasks.shutdown(10_000)


def _dialog(
    ctx: AppContext, runner: TaskRunner, qtbot: QtBot, cfg: RegistryConfig | None = None
) -> RegistryDialog:
    dialog = RegistryDialog(ctx.registries, runner, cfg)
    dialog.setStyleSheet(stylesheet())
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def _fill(dialog: RegistryDialog, qtbot: QtBot, name: str, url: str) -> None:
    dialog.name.clear()
    qtbot.keyClicks(dialog.name, name)
    dialog.url.clear()
    qtbot.keyClicks(dialog.url, url)


@pytest.mark.integration
def test_test_connection_reports_success_and_model_count(
    ctx: AppContext, runner: TaskRunner, qtbot: QtBot, seeded_registry: MlflowRegistry
) -> None:
    dialog = _dialog(ctx, runner, qtbot)
    _fill(dialog, qtbot, "team-registry", seeded_registry.url)
    dialog.test_button.click()
    assert not dialog.test_button.isEnabled()  # the probe runs in the background
    qtbot.waitUntil(lambda: dialog.result_kind in ("success", "failure"), timeout=TEST_TIMEOUT_MS)
    assert dialog.result_kind == "success"
    text = dialog.result_label.text()
    assert text.startswith("✓ Connected to MLflow")
    count = int(re.search(r"(\d+) registered models", text).group(1))  # type: ignore[union-attr]
    assert count >= 10  # the demo portfolio, plus whatever other tests registered
    assert "Credentials accepted: not needed" in text  # no authentication configured
    assert dialog.test_button.isEnabled()
    save_screenshot(dialog, "registry_dialog_success")

    # Editing a field makes the result stale: it goes.
    qtbot.keyClicks(dialog.url, "/")
    assert dialog.result_kind == ""

    dialog.buttons.button(dialog.buttons.StandardButton.Save).click()
    assert dialog.saved is not None
    assert [c.name for c in ctx.registries.configs()] == ["team-registry"]


def test_test_connection_to_a_dead_port_fails_clearly(
    ctx: AppContext, runner: TaskRunner, qtbot: QtBot
) -> None:
    dialog = _dialog(ctx, runner, qtbot)
    url = dead_url()
    _fill(dialog, qtbot, "nowhere", url)
    dialog.timeout.setValue(2.0)
    dialog.test_button.click()
    qtbot.waitUntil(lambda: dialog.result_kind in ("success", "failure"), timeout=TEST_TIMEOUT_MS)
    assert dialog.result_kind == "failure"
    text = dialog.result_label.text()
    assert text.startswith("✗ ")
    assert url.removeprefix("http://") in text  # the connector's sentence names it
    save_screenshot(dialog, "registry_dialog_failure")


def test_invalid_settings_are_shown_inline_and_nothing_is_saved(
    ctx: AppContext, runner: TaskRunner, qtbot: QtBot
) -> None:
    dialog = _dialog(ctx, runner, qtbot)
    _fill(dialog, qtbot, "prod", "mlflow.example.com")
    dialog.test_button.click()
    assert dialog.error.isVisible()
    assert dialog.error.text() == (
        "The registry URL 'mlflow.example.com' must start with http:// or https://."
    )
    assert dialog.result_kind == ""  # nothing was sent

    _fill(dialog, qtbot, "bad name!", "https://mlflow.example.com")
    assert not dialog.error.isVisible()  # typing clears the old error
    dialog.save()
    assert "is not a valid registry name" in dialog.error.text()

    _fill(dialog, qtbot, "prod", "https://mlflow.example.com")
    dialog.auth.setCurrentIndex(dialog.auth.findData(AuthKind.BASIC.value))
    dialog.save()
    assert dialog.error.text() == "Basic authentication needs a username."
    qtbot.keyClicks(dialog.username, "officer")
    dialog.save()
    assert dialog.error.text() == (
        "Enter the password, or choose to read it from an environment variable."
    )
    dialog.secret_from_env.setChecked(True)
    dialog.save()
    assert dialog.error.text() == "Name the environment variable that holds the secret."
    assert dialog.result() == 0 and ctx.registries.configs() == []
    save_screenshot(dialog, "registry_dialog_invalid")

    qtbot.keyClicks(dialog.secret_env, "GAVEL_PROD_PASSWORD")
    dialog.save()
    assert ctx.registries.get("prod") == RegistryConfig(
        name="prod",
        url="https://mlflow.example.com",
        auth=AuthKind.BASIC,
        username="officer",
        secret_env="GAVEL_PROD_PASSWORD",
    )


def test_edit_keeps_the_stored_token_and_warns_when_secrets_do_not_persist(
    ctx: AppContext, runner: TaskRunner, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = RegistryConfig(name="prod", url="https://mlflow.example.com", auth=AuthKind.BEARER)
    ctx.registries.add(cfg, "tok-123")
    monkeypatch.setattr(RegistryService, "secrets_persistent", property(lambda self: False))
    dialog = _dialog(ctx, runner, qtbot, cfg)
    assert dialog.windowTitle() == "Edit registry “prod”"
    assert dialog.secret.placeholderText() == "Leave empty to keep the stored secret"
    assert dialog.secret_warning.isVisible()
    assert dialog.secret_warning.text() == ctx.registries.secrets_description()
    dialog.url.setText("https://mlflow2.example.com")
    dialog.save()
    assert ctx.registries.get("prod").url == "https://mlflow2.example.com"
    assert ctx.registries.resolve_secret(ctx.registries.get("prod")) == "tok-123"


def test_url_with_credentials_is_refused_as_typed_and_never_saved(
    ctx: AppContext, runner: TaskRunner, qtbot: QtBot, tmp_path: Path
) -> None:
    dialog = _dialog(ctx, runner, qtbot)
    _fill(dialog, qtbot, "prod", "https://ana:hunter22@mlflow.example.com")
    assert dialog.error.isVisible()  # said while typing, before Save
    assert dialog.error.text() == (
        "The registry URL contains a user name or password; give the URL without them and "
        "use --username/--password-env (or the dialog's fields)."
    )
    save_screenshot(dialog, "registry_dialog_url_credentials")
    dialog.test_button.click()
    assert dialog.result_kind == ""  # nothing was sent
    dialog.buttons.button(dialog.buttons.StandardButton.Save).click()
    assert dialog.saved is None and dialog.result() == 0
    assert dialog.error.isVisible()
    assert ctx.registries.configs() == []
    assert [f for f in tmp_path.rglob("*") if f.is_file() and b"hunter22" in f.read_bytes()] == []

    dialog.url.setText("https://mlflow.example.com")
    assert not dialog.error.isVisible()
    dialog.save()
    assert dialog.saved is not None


def test_plaintext_keyring_without_opt_in_keeps_the_token_for_the_session(
    runner: TaskRunner, qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GAVEL_ALLOW_PLAINTEXT_KEYRING")  # conftest's opt-in
    ctx = make_context(tmp_path / "home")
    try:
        dialog = _dialog(ctx, runner, qtbot)
        _fill(dialog, qtbot, "prod", "https://mlflow.example.com")
        dialog.auth.setCurrentIndex(dialog.auth.findData(AuthKind.BEARER.value))
        assert dialog.secret_stored.text() == "Keep it for this session"
        assert dialog.secret_warning.isVisible()
        assert dialog.secret_warning.text().startswith(
            "The only keyring available is a plaintext file (keyrings.alt PlaintextKeyring"
        )
        assert "set [secrets] allow_plaintext_keyring = true" in dialog.secret_warning.text()
        save_screenshot(dialog, "registry_dialog_plaintext_keyring")
        qtbot.keyClicks(dialog.secret, "tok-session-only")
        dialog.save()
        cfg = ctx.registries.get("prod")
        assert ctx.registries.resolve_secret(cfg) == "tok-session-only"
    finally:
        ctx.close()
    later = make_context(tmp_path / "home")
    try:
        with pytest.raises(SecretUnavailable, match="not stored in this session"):
            later.registries.resolve_secret(later.registries.get("prod"))
    finally:
        later.close()


def test_save_after_a_failed_test_asks_first(
    ctx: AppContext, runner: TaskRunner, qtbot: QtBot
) -> None:
    dialog = _dialog(ctx, runner, qtbot)
    _fill(dialog, qtbot, "nowhere", dead_url())
    dialog.timeout.setValue(2.0)
    dialog.test_button.click()
    qtbot.waitUntil(lambda: dialog.result_kind in ("success", "failure"), timeout=TEST_TIMEOUT_MS)
    assert dialog.result_kind == "failure"
    asked: list[tuple[str, str]] = []

    def decline(_parent: object, title: str, text: str) -> bool:
        asked.append((title, text))
        return False

    dialog.confirm_save = decline
    save = dialog.buttons.button(dialog.buttons.StandardButton.Save)
    save.click()
    [(title, text)] = asked
    assert title == "Save a registry that did not answer?"
    assert "The connection test of “nowhere” failed" in text and "127.0.0.1" in text
    assert dialog.saved is None and ctx.registries.configs() == []
    assert dialog.isVisible()  # still there to correct the URL

    dialog.confirm_save = lambda *_: True
    save.click()
    assert dialog.saved is not None
    assert [c.name for c in ctx.registries.configs()] == ["nowhere"]


def test_connection_report_says_what_is_true_of_credentials() -> None:
    ok = ConnectionReport(True, True, True, "3.1", 4, "Connected to MLflow 3.1.")
    assert "Credentials accepted: not needed" in report_text(ok, AuthKind.NONE)
    assert "Credentials accepted: yes" in report_text(ok, AuthKind.BASIC)
    refused = ConnectionReport(
        True,
        True,
        False,
        "",
        None,
        "The registry 'x' at http://x rejected the credentials (HTTP 401); open "
        "Registry → Edit… and check the username and password or token.",
    )
    text = report_text(refused, AuthKind.BASIC)
    assert "Credentials accepted: no" in text
    # The user is in the dialog already: no menu to open, and never the old wrong name.
    assert "Registry → Edit" not in text and "Registries" not in text
    assert "check, in this dialog, the username and password" in text
    assert in_dialog("raise the timeout in Registry → Edit….") == "raise the Timeout above."
