"""What Gavel does with input a person typed or edited: URLs carrying credentials, the
[secrets] table of config.toml, and TOML files in the wrong encoding."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.domain.errors import ConfigError, UsageError
from app.domain.registry import RegistryConfig
from app.domain.urls import reject_credentials_in_url
from app.stores.config_file import ConfigFile
from app.stores.endpoint_config import EndpointConfigFile
from app.stores.toml_file import read_toml

PASSWORD = "hunter22-pw"


@pytest.mark.parametrize(
    "url",
    [
        f"http://ana:{PASSWORD}@mlflow.example.com:5000",
        f"https://ana:{PASSWORD}@mlflow.example.com/path?q=1",
        "http://ana@mlflow.example.com",
        f"ana:{PASSWORD}@mlflow.example.com:5000",  # no scheme: refused, not echoed
        f"ftp://ana:{PASSWORD}@mlflow.example.com",
    ],
)
def test_registry_url_with_credentials_is_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(UsageError) as info:
        RegistryConfig(name="prod", url=url)
    assert info.value.message == (
        "The registry URL contains a user name or password; give the URL without them and "
        "use --username/--password-env (or the dialog's fields)."
    )
    assert PASSWORD not in str(info.value) and "ana" not in str(info.value)


@pytest.mark.parametrize(
    "url",
    ["http://mlflow.example.com/models/a@b", "http://127.0.0.1:5000?owner=ana@example.com"],
)
def test_an_at_sign_after_the_host_is_not_a_credential(url: str) -> None:
    assert RegistryConfig(name="prod", url=url).url == url


def test_a_url_rule_may_accept_a_user_name_and_refuse_only_a_password() -> None:
    # The shape a PostgreSQL ledger URL needs: the user in the URL, the password elsewhere.
    reject_credentials_in_url("postgresql+psycopg://ana@db/ledger", "X", allow_user=True)
    with pytest.raises(UsageError) as info:
        reject_credentials_in_url(
            f"postgresql+psycopg://ana:{PASSWORD}@db/ledger",
            "The team ledger URL",
            "keep the password in the keyring entry 'team-ledger'",
            allow_user=True,
        )
    assert info.value.message == (
        "The team ledger URL contains a password; give the URL without it and keep the "
        "password in the keyring entry 'team-ledger'."
    )


def test_hand_edited_config_with_credentials_in_a_url_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[[registry]]\nname = "prod"\nurl = "https://ana:{PASSWORD}@mlflow.example.com"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        ConfigFile(path).registries()
    message = info.value.message
    assert message.startswith(f"{path}, registry #1: the URL contains a user name or password")
    assert "'username'" in message and "'secret_env'" in message
    assert PASSWORD not in message


def test_the_secrets_table_is_validated(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    config = ConfigFile(path)
    assert config.allow_plaintext_keyring() is False  # no file: the safe default
    path.write_text("[secrets]\nallow_plaintext_keyring = true\n", encoding="utf-8")
    assert config.allow_plaintext_keyring() is True
    config.add_registry(RegistryConfig(name="prod", url="https://mlflow.example.com"))
    assert config.allow_plaintext_keyring() is True  # saving registries keeps the table
    path.write_text('[secrets]\nallow_plaintext_keyring = "yes"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="'allow_plaintext_keyring' must be a bool"):
        config.allow_plaintext_keyring()
    path.write_text("[secrets]\nallow_plaintext = true\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[secrets\]: unknown key\(s\) allow_plaintext"):
        config.allow_plaintext_keyring()


def test_utf8_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    # What Windows Notepad saves as "UTF-8 with BOM".
    path = tmp_path / "profile.toml"
    path.write_bytes('display_name = "Zoë"\n'.encode("utf-8-sig"))
    assert read_toml(path) == {"display_name": "Zoë"}


@pytest.mark.parametrize(
    ("data", "found"),
    [
        ('name = "x"\ndisplay_name = "Zoë"\n'.encode("latin-1"), "byte 0xeb on line 2"),
        ('display_name = "Zoë"\n'.encode("utf-16"), "it looks like UTF-16"),
        (b"d\x00=\x00'\x00x\x00'\x00", "it looks like UTF-16"),  # UTF-16-LE, no BOM
    ],
)
def test_a_file_that_is_not_utf8_is_one_sentence(tmp_path: Path, data: bytes, found: str) -> None:
    path = tmp_path / "profile.toml"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as info:
        read_toml(path)
    assert info.value.message == (
        f"{path} is not UTF-8 text ({found}); open it in an editor and save it again with "
        "the encoding UTF-8."
    )


def test_concurrent_writers_of_config_toml_lose_nothing(tmp_path: Path) -> None:
    """Registries and endpoints share config.toml; two processes and several threads
    adding to it at once keep every entry (one locked read-modify-write each)."""
    import multiprocessing
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "config.toml"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_add_many, args=(str(path), f"p{i}")) for i in range(2)]
    for proc in procs:
        proc.start()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: _add_many(str(path), f"t{i}"), range(4)))
    for proc in procs:
        proc.join(timeout=120)
    assert [proc.exitcode for proc in procs] == [0, 0]
    names = {r.name for r in ConfigFile(path).registries()}
    endpoints = {e.name for e in EndpointConfigFile(path).endpoints()}
    expected = {f"{who}-{n}" for who in ("p0", "p1", "t0", "t1", "t2", "t3") for n in range(5)}
    assert names == expected and endpoints == expected


def _add_many(path: str, who: str) -> None:
    from app.domain.endpoints import EndpointConfig, EndpointKind

    config, endpoints = ConfigFile(Path(path)), EndpointConfigFile(Path(path))
    for n in range(5):
        config.add_registry(RegistryConfig(f"{who}-{n}", "http://127.0.0.1:5000"))
        endpoints.add_endpoint(
            EndpointConfig(f"{who}-{n}", EndpointKind.OIP, "http://127.0.0.1:8080", "reg", "m", "a")
        )
