"""Window state between sessions, kept in an INI file in the profile's config dir.

Not the platform's default QSettings location: GAVEL_HOME must isolate it like
everything else (tests, a second officer's profile on the same machine).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings


def console_settings(config_dir: Path) -> QSettings:
    return QSettings(str(config_dir / "console.ini"), QSettings.Format.IniFormat)


def read_bytes(settings: QSettings, key: str) -> QByteArray | None:
    value = settings.value(key)
    return value if isinstance(value, QByteArray) and not value.isEmpty() else None


def read_int(settings: QSettings, key: str, default: int) -> int:
    value = settings.value(key, default)
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return default


def read_str(settings: QSettings, key: str) -> str | None:
    value = settings.value(key)
    return value if isinstance(value, str) and value else None
