"""Layering: nothing below app/ui imports Qt or matplotlib; domain stays pure; app/ui is
rooms (feature packages on common, the shell hosting them) with no circle between them."""

from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOWER_LAYERS = ("domain", "presentation", "stores", "connectors", "services")


def _modules(layer: str) -> list[str]:
    base = ROOT / "app" / layer
    return sorted(
        "app." + ".".join(p.relative_to(ROOT / "app").with_suffix("").parts)
        for p in base.rglob("*.py")
        if not any(part.endswith("migrations") for part in p.parts) and p.name != "__init__.py"
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


def test_domain_and_presentation_load_no_infrastructure() -> None:
    loaded = _imported_after(_modules("domain") + _modules("presentation"))
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


# -- the rooms of app/ui ------------------------------------------------------------------

UI = ROOT / "app" / "ui"
UI_TOP_MODULES = {"__init__", "main", "console"}
UI_FEATURES = (
    "overview",
    "portfolio",
    "governance",
    "audit",
    "serving",
    "insights",
    "delivery",
    "settings",
)
UI_PACKAGES = {"common", "shell", *UI_FEATURES}


def _ui_imports(path: Path) -> set[str]:
    """Every app.* module a file imports: top level, inside functions, TYPE_CHECKING."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "app" or name.startswith("app.")}


def _room_of(module: str) -> str | None:
    """'governance' for app.ui.governance.x; 'console' for app.ui.console; None outside."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["app", "ui"] else None


def _room_graph() -> dict[str, set[str]]:
    """Which rooms of app/ui each room imports (itself left out)."""
    graph: dict[str, set[str]] = {}
    for path in UI.rglob("*.py"):
        rel = path.relative_to(UI)
        room = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        targets = {_room_of(m) for m in _ui_imports(path)}
        graph.setdefault(room, set()).update(t for t in targets if t and t != room)
    return graph


def test_every_ui_module_lives_in_a_room() -> None:
    loose = {p.stem for p in UI.glob("*.py")} - UI_TOP_MODULES
    assert loose == set(), "app/ui modules belong in a feature package, common or shell"
    packages = {p.name for p in UI.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == UI_PACKAGES


def test_features_and_shell_import_only_common() -> None:
    # A feature reaches the shell and other features through app.ui.common.host's
    # seams; only app.ui.console (the assembly) and main know them all.
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for room in ("shell", *UI_FEATURES)
        for path in sorted((UI / room).rglob("*.py"))
        for module in sorted(_ui_imports(path))
        if _room_of(module) not in (None, room, "common")
    ]
    assert offenders == []


def test_common_imports_no_room_above_it() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sorted((UI / "common").rglob("*.py"))
        for module in sorted(_ui_imports(path))
        if _room_of(module) not in (None, "common")
    ]
    assert offenders == []


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle in the graph (as a path that returns to its start), or []."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str]:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target, [*path, target])):
                return found
        state[node] = 2
        return []

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return []


def test_no_import_cycle_between_the_rooms_of_app_ui() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []
    graph = _room_graph()
    assert _cycle(graph) == []
    # The shell is hosted, never the host's client: nothing but the assembly imports it.
    importers = {room for room, targets in graph.items() if "shell" in targets}
    assert importers <= {"console", "main"}


def test_ui_takes_its_context_from_the_entry_layer_without_detours() -> None:
    # app.bootstrap (the composition root) sits above app.ui: the command line passes
    # run_console its context factory. No importlib lookups around the import linter.
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted(UI.rglob("*.py"))
        if "importlib" in path.read_text(encoding="utf-8")
        or "__import__(" in path.read_text(encoding="utf-8")
        or any(m.startswith(("app.bootstrap", "app.cli")) for m in _ui_imports(path))
    ]
    assert offenders == []


# -- the command line -----------------------------------------------------------------

CLI = ROOT / "app" / "cli"


def _command_functions(source: str) -> list[ast.FunctionDef]:
    """Functions with an `argparse.Namespace` parameter: commands and their helpers."""
    return [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef)
        and any(
            a.annotation is not None and ast.unparse(a.annotation) == "argparse.Namespace"
            for a in node.args.args
        )
    ]


def _untyped_contexts(source: str) -> list[str]:
    """Commands whose context (`ctx`, or the first parameter) is not a `CliContext`."""
    found = []
    for fn in _command_functions(source):
        first = fn.args.args[0]
        ctx = next((a for a in fn.args.args if a.arg == "ctx"), first)
        if ctx.annotation is not None and ast.unparse(ctx.annotation) == "argparse.Namespace":
            continue  # passphrase(args), _endpoint_changes(args): no context at all
        annotation = "" if ctx.annotation is None else ast.unparse(ctx.annotation)
        if annotation != "CliContext":
            found.append(f"{fn.name}({ctx.arg}: {annotation or 'untyped'})")
    return found


def test_the_command_line_is_one_package() -> None:
    loose = sorted(p.name for p in (ROOT / "app").glob("cli*.py"))
    assert loose == [], "the command line lives in app/cli/, one module per area"
    assert (CLI / "__init__.py").exists()
    from app.cli import main

    assert callable(main)


def test_every_command_is_typed_against_the_cli_context() -> None:
    bad = "def run(ctx: Any, args: argparse.Namespace) -> int: ..."
    assert _untyped_contexts(bad) == ["run(ctx: Any)"]
    assert _untyped_contexts("def f(svc, args: argparse.Namespace): ...") == ["f(svc: untyped)"]
    assert _untyped_contexts("def f(args: argparse.Namespace): ...") == []
    good = "def run(ctx: CliContext, args: argparse.Namespace) -> int: ..."
    assert _untyped_contexts(good) == []
    offenders = [
        f"{path.relative_to(ROOT)}: {found}"
        for path in sorted(CLI.rglob("*.py"))
        for found in _untyped_contexts(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
    assert len([f for p in CLI.rglob("*.py") for f in _command_functions(p.read_text())]) > 30


def test_every_command_is_reached_through_a_dispatch_table() -> None:
    # No `if args.action == ...` chains: a command with sub-actions has a table of them
    # (`main` still tells the console, `gui` or no command, from the rest).
    offenders = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in sorted(CLI.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.If)
        and isinstance(node.test, ast.Compare)
        and ast.unparse(node.test.left) in ("args.action", "args.command")
        and isinstance(node.test.ops[0], ast.Eq)
    ]
    assert offenders == []
    from app.cli import _COMMANDS
    from app.cli.parser import AREAS, build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) - {"gui", "open"} == set(_COMMANDS)
    # No two areas claim a command (the dispatch table would keep only the last).
    assert sum(len(area.COMMANDS) for area in AREAS) == len(_COMMANDS)


def test_the_console_starts_without_matplotlib(tmp_path: Path) -> None:
    """Charts import matplotlib and numpy (hundreds of ms, tens of MB): a console whose
    chart pages nobody opened has not paid for them."""
    code = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from app.bootstrap import build_context\n"
        "from app.ui.console import build_console\n"
        "console = build_console(build_context())\n"
        "console.window.show()\n"
        "app.processEvents()\n"
        "print('matplotlib' in sys.modules)\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "GAVEL_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split()[-1] == "False", out.stdout + out.stderr
