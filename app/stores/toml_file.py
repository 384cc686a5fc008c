"""The profile's TOML files (config, profile): one reader, one typed validator, and
one locked read-modify-write, so two writers (the registry and endpoint settings live
in one config.toml; two Gavels may run) never lose each other's change."""

from __future__ import annotations

import codecs
import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import tomli_w

from app.domain.errors import ConfigError
from app.stores.file_lock import file_lock


def read_toml(path: Path) -> dict[str, Any]:
    """The file's tables, {} when it does not exist; ConfigError with a sentence otherwise."""
    if not path.exists():
        return {}
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror}.") from None
    try:
        return tomllib.loads(_utf8_text(path, raw))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}); fix or remove it.") from None


def _utf8_text(path: Path, raw: bytes) -> str:
    """The file as text; ConfigError saying how to re-save it when it is not UTF-8."""
    # Windows Notepad writes UTF-8 with a byte-order mark; it is still UTF-8.
    raw = raw.removeprefix(codecs.BOM_UTF8)
    # NUL never occurs in TOML text but fills every other byte of UTF-16 (which, for
    # ASCII content, would otherwise decode as UTF-8 and fail later, less clearly).
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in raw:
        found = "it looks like UTF-16"
    else:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            found = f"byte 0x{raw[exc.start]:02x} on line {line}"
    raise ConfigError(
        f"{path} is not UTF-8 text ({found}); open it in an editor and save it again "
        "with the encoding UTF-8."
    )


def write_toml(path: Path, data: dict[str, Any]) -> None:
    """Replace the file in one step, so a crash never leaves half a config behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("wb") as fh:
            tomli_w.dump(data, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"Cannot write {path}: {exc.strerror}.") from None


# Typed keys of a table: name -> (type, what it means); anything else is refused.
TableKeys = Mapping[str, tuple[type, str]]


def typed_table(entry: object, keys: TableKeys, where: str) -> dict[str, Any]:
    """A TOML table checked against its declared keys: unknown keys and wrong types are
    refused with a sentence naming the file and table (``where``); integers are accepted
    where a float is declared."""
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a table.")
    unknown = set(entry) - set(keys)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}.")
    out: dict[str, Any] = {}
    for key, value in entry.items():
        typ, _ = keys[key]
        if typ is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, typ) or (typ is not bool and isinstance(value, bool)):
            raise ConfigError(f"{where}: '{key}' must be a {typ.__name__}.")
        out[key] = value
    return out


def update_toml(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Read the file, let ``change`` edit its tables, write it back: one locked step."""
    with file_lock(path):
        data = read_toml(path)
        change(data)
        write_toml(path, data)
