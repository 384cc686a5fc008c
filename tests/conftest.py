"""Test-wide isolation: Qt offscreen, every user dir and the keyring in a tmp dir.

This runs before anything imports Qt or keyring, so the settings below take effect.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="gavel-tests-"))
# The keyring backend is a plain file under the session dir: real keyring API, no
# Secret Service needed, nothing written to the developer's own keyring.
os.environ["PYTHON_KEYRING_BACKEND"] = "keyrings.alt.file.PlaintextKeyring"
# Gavel keeps secrets out of a plaintext keyring unless the user opts in; the suite
# opts in so tests of everything else keep secrets across the contexts and processes
# they build, as an OS keyring would. test_credentials.py covers the default (no opt-in).
os.environ["GAVEL_ALLOW_PLAINTEXT_KEYRING"] = "1"
os.environ["XDG_DATA_HOME"] = str(_SESSION_DIR / "xdg-data")
os.environ["XDG_CONFIG_HOME"] = str(_SESSION_DIR / "xdg-config")
os.environ["XDG_CACHE_HOME"] = str(_SESSION_DIR / "xdg-cache")
os.environ["GAVEL_HOME"] = str(_SESSION_DIR / "gavel-home")

import pytest  # noqa: E402

from app.stores.paths import AppPaths, resolve_paths  # noqa: E402

pytest_plugins = [
    "tests.fixtures.databases",
    "tests.fixtures.desks",
    "tests.fixtures.ledger_dbs",
    "tests.fixtures.mlflow",
    "tests.fixtures.serving",
]


@pytest.fixture
def gavel_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppPaths]:
    """A fresh profile (config, cache, logs) for one test."""
    home = tmp_path / "home"
    monkeypatch.setenv("GAVEL_HOME", str(home))
    paths = resolve_paths({"GAVEL_HOME": str(home)})
    paths.ensure()
    yield paths
