"""The headless command line, run as a user runs it: a subprocess with GAVEL_HOME."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from app.connectors.mlflow_registry import MlflowRegistryClient
from tests.fixtures.mlflow import AuthMlflowRegistry, MlflowRegistry
from tests.ui_helpers import dead_url

ROOT = Path(__file__).resolve().parents[1]


def gavel(
    home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "GAVEL_HOME": str(home), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], code: int) -> str:
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert lines[0].startswith("gavel: ")
    return lines[0]


def test_bad_usage_exits_2(tmp_path: Path) -> None:
    assert_one_line_error(gavel(tmp_path, "frobnicate"), 2)
    assert_one_line_error(gavel(tmp_path, "registry", "add", "x"), 2)  # --url missing
    line = assert_one_line_error(
        gavel(tmp_path, "registry", "add", "bad name", "--url", "http://x"), 2
    )
    assert "not a valid registry name" in line
    line = assert_one_line_error(gavel(tmp_path, "registry", "add", "x", "--url", "ftp://x"), 2)
    assert "http://" in line
    line = assert_one_line_error(gavel(tmp_path, "sync", "nope"), 2)
    assert "no registry named 'nope'" in line


def test_secrets_come_from_the_environment_only(tmp_path: Path) -> None:
    line = assert_one_line_error(
        gavel(tmp_path, "registry", "add", "a", "--url", "http://x", "--username", "ana"), 2
    )
    assert "--password-env" in line
    line = assert_one_line_error(
        gavel(tmp_path, "registry", "add", "a", "--url", "http://x", "--token-env", "NOPE_UNSET"), 2
    )
    assert "NOPE_UNSET" in line
    ok = gavel(
        tmp_path,
        "registry", "add", "a", "--url", "http://x", "--token-env", "MY_TOKEN",
        env={"MY_TOKEN": "s3cr3t-token-value"},
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert b"s3cr3t-token-value" not in f.read_bytes(), f


@pytest.mark.integration
def test_add_sync_list_offline(tmp_path: Path, seeded_registry: MlflowRegistry) -> None:
    assert gavel(tmp_path, "registry", "add", "demo", "--url", seeded_registry.url).returncode == 0
    listed = json.loads(gavel(tmp_path, "registry", "list", "--json").stdout)
    assert [(r["name"], r["url"], r["last_synced_at"]) for r in listed] == [
        ("demo", seeded_registry.url, None)
    ]

    synced = gavel(tmp_path, "sync", "--json")
    assert synced.returncode == 0, synced.stderr
    result = json.loads(synced.stdout)[0]
    assert result["ok"] and result["result"]["models"] >= 8

    models = json.loads(gavel(tmp_path, "models", "list", "--json").stdout)
    assert len(models) == result["result"]["models"]
    with_alias = next(m for m in models if m["aliases"])
    versions = json.loads(gavel(tmp_path, "versions", "list", with_alias["name"], "--json").stdout)
    assert [v["version"] for v in versions] == sorted(
        (v["version"] for v in versions), reverse=True
    )
    alias, number = next(iter(with_alias["aliases"].items()))
    assert alias in next(v for v in versions if v["version"] == number)["aliases"]

    # Point the registry at a dead port: sync fails with one sentence, the cache stays.
    config = tmp_path / "config" / "config.toml"
    config.write_text(config.read_text().replace(seeded_registry.url, dead_url()))
    failed = gavel(tmp_path, "sync")
    line = assert_one_line_error(failed, 1)
    assert "demo" in line
    assert json.loads(gavel(tmp_path, "models", "list", "--json").stdout) == models
    text = gavel(tmp_path, "models", "list").stdout
    assert with_alias["name"] in text and "MODEL" in text


@pytest.mark.integration
def test_hostile_model_names(tmp_path: Path, seeded_registry: MlflowRegistry) -> None:
    # MLflow 3 refuses '/' and ':' in model names itself; everything else goes.
    name = f'it\'s a "model" \\ ü {uuid.uuid4().hex[:4]}'
    with MlflowRegistryClient(seeded_registry.config(), None) as c:
        c.create_registered_model(name)
        c.create_model_version(name, source="s3://bucket/model", run_id="")
    try:
        gavel(tmp_path, "registry", "add", "demo", "--url", seeded_registry.url)
        assert gavel(tmp_path, "sync").returncode == 0
        out = gavel(tmp_path, "versions", "list", name, "--json")
        assert out.returncode == 0, out.stderr
        assert [v["version"] for v in json.loads(out.stdout)] == [1]
    finally:
        with MlflowRegistryClient(seeded_registry.config(), None) as c:
            c.delete_registered_model(name)


@pytest.mark.integration
def test_wrong_password_is_one_sentence_without_the_secret(
    tmp_path: Path, mlflow_auth_server: AuthMlflowRegistry
) -> None:
    env = {"MLFLOW_PW": "definitely-wrong-pw"}
    added = gavel(
        tmp_path,
        "registry", "add", "auth", "--url", mlflow_auth_server.url,
        "--username", mlflow_auth_server.user.username, "--password-env", "MLFLOW_PW",
        env=env,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    line = assert_one_line_error(gavel(tmp_path, "sync", env=env), 1)
    assert "definitely-wrong-pw" not in line
    assert "password" in line.lower() or "credentials" in line.lower()
    test = gavel(tmp_path, "registry", "test", "auth", env=env)
    assert test.returncode == 1
    ok = gavel(tmp_path, "sync", env={"MLFLOW_PW": mlflow_auth_server.user.password})
    assert ok.returncode == 0, ok.stderr


def _files_holding(root: Path, value: str) -> list[Path]:
    return [f for f in root.rglob("*") if f.is_file() and value.encode() in f.read_bytes()]


def test_url_with_credentials_is_refused_and_never_stored(tmp_path: Path) -> None:
    password = "pw-" + uuid.uuid4().hex
    for url in (f"http://ana:{password}@mlflow:5000", "http://ana@mlflow:5000"):
        line = assert_one_line_error(gavel(tmp_path, "registry", "add", "a", "--url", url), 2)
        assert line == (
            "gavel: The registry URL contains a user name or password; give the URL without "
            "them and use --username/--password-env (or the dialog's fields)."
        )
    assert _files_holding(tmp_path, password) == []  # not in config.toml, cache or logs
    listed = gavel(tmp_path, "registry", "list", "--json")
    assert json.loads(listed.stdout) == []


def test_hand_edited_url_with_credentials_is_refused_on_load(tmp_path: Path) -> None:
    config = tmp_path / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[[registry]]\nname = "a"\nurl = "http://ana:pw-4711@mlflow:5000"\n')
    line = assert_one_line_error(gavel(tmp_path, "registry", "list"), 1)
    assert line.startswith(f"gavel: {config}, registry #1: the URL contains a user name")
    assert "pw-4711" not in line
    assert _files_holding(tmp_path / "logs", "pw-4711") == []


@pytest.mark.parametrize(
    ("file", "data", "says"),
    [
        ("config.toml", '[[registry]]\nname = "café"\n'.encode("latin-1"), "is not UTF-8 text"),
        ("config.toml", '[[registry]]\nname = "café"\n'.encode("utf-16"), "looks like UTF-16"),
        ("config.toml", b"[[registry]\n", "is not valid TOML"),
        ("profile.toml", 'display_name = "Zoë"\n'.encode("latin-1"), "is not UTF-8 text"),
    ],
)
def test_unreadable_config_files_are_one_sentence(
    tmp_path: Path, file: str, data: bytes, says: str
) -> None:
    path = tmp_path / "config" / file
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    line = assert_one_line_error(gavel(tmp_path, "registry", "list"), 1)
    assert line.startswith(f"gavel: {path} ")
    assert says in line


def test_store_secret_in_a_plaintext_keyring_needs_the_opt_in(tmp_path: Path) -> None:
    from app.connectors.credentials import CredentialStore, registry_secret_key

    token = "tok-" + uuid.uuid4().hex
    env = {"MY_TOKEN": token, "GAVEL_ALLOW_PLAINTEXT_KEYRING": ""}
    name = f"pt-{uuid.uuid4().hex[:8]}"
    added = gavel(
        tmp_path,
        "registry", "add", name, "--url", "http://x", "--token-env", "MY_TOKEN", "--store-secret",
        env=env,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    warning = added.stderr.strip().splitlines()
    assert len(warning) == 1
    assert warning[0].startswith(
        "Warning: The only keyring available is a plaintext file (keyrings.alt PlaintextKeyring"
    )
    assert "registry secrets are kept for this session only" in warning[0]
    assert warning[0].endswith(f"'{name}' keeps reading MY_TOKEN at every sync.")
    # The registry still works in the next command: it reads the variable, as it said.
    config = (tmp_path / "config" / "config.toml").read_text()
    assert 'secret_env = "MY_TOKEN"' in config
    assert CredentialStore().get(registry_secret_key(name)) is None
    assert _files_holding(tmp_path, token) == []

    # With the opt-in in config.toml the secret goes to the plaintext keyring.
    (tmp_path / "config" / "config.toml").write_text(
        config + "\n[secrets]\nallow_plaintext_keyring = true\n"
    )
    stored = f"{name}-kept"
    added = gavel(
        tmp_path,
        "registry", "add", stored, "--url", "http://x", "--token-env", "MY_TOKEN", "--store-secret",
        env=env,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert added.stderr == ""
    try:
        assert CredentialStore().get(registry_secret_key(stored)) == token
    finally:
        CredentialStore().delete(registry_secret_key(stored))
