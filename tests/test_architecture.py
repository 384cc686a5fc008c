"""Layering: nothing below app/ui imports Qt or matplotlib; domain stays pure."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOWER_LAYERS = ("domain", "stores", "connectors", "services")


def _modules(layer: str) -> list[str]:
    base = ROOT / "app" / layer
    return sorted(
        "app." + ".".join(p.relative_to(ROOT / "app").with_suffix("").parts)
        for p in base.rglob("*.py")
        if "migrations" not in p.parts and p.name != "__init__.py"
    )


def _imported_after(modules: list[str]) -> set[str]:
    """Import the modules in a fresh interpreter and return every module it loaded."""
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(out.stdout.split())


def test_lower_layers_do_not_load_qt_or_matplotlib() -> None:
    modules = [m for layer in LOWER_LAYERS for m in _modules(layer)]
    assert len(modules) > 10
    loaded = _imported_after(modules)
    leaked = sorted(m for m in loaded if m.split(".")[0] in {"PySide6", "shiboken6", "matplotlib"})
    assert leaked == []


def test_domain_loads_no_infrastructure() -> None:
    loaded = _imported_after(_modules("domain"))
    infra = {"sqlalchemy", "requests", "keyring", "alembic", "urllib3", "psycopg"}
    assert sorted(m for m in loaded if m.split(".")[0] in infra) == []


def test_import_linter_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _single_shots_without_context(source: str) -> list[int]:
    """Lines of `QTimer.singleShot(ms, fn)` calls: two arguments, so no context object."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "singleShot"
        and len(node.args) + len(node.keywords) == 2
    ]


def test_console_timers_name_the_object_they_die_with() -> None:
    # A single-shot timer without a context object fires even after the widget whose
    # method it calls was deleted: CI crashed that way once (a closed window's
    # first-paint fallback). The console passes a context, singleShot(ms, obj, fn).
    assert _single_shots_without_context("QTimer.singleShot(0, self.open)") == [1]
    assert _single_shots_without_context("QTimer.singleShot(0, self, self.open)") == []
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted((ROOT / "app" / "ui").rglob("*.py"))
        for line in _single_shots_without_context(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
