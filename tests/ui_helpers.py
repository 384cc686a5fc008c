"""Helpers for the console's tests: isolated contexts, a seeded cache, leak checks,
screenshots."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QThreadPool
from PySide6.QtWidgets import QApplication, QWidget

from app.bootstrap import AppContext, build_context
from app.domain.entities import DatasetInput, MetricPoint, ModelVersion, RegisteredModel, Run
from app.domain.portfolio import PortfolioRow, PortfolioSort
from app.services.portfolio import PortfolioService
from app.stores.paths import resolve_paths
from app.stores.snapshot_writer import SnapshotWriter

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"

TEAMS = ("credit-risk", "fraud", "marketing", "operations")
TIERS = ("high", "medium", "low", "")
BASE_MS = 1_736_154_000_000


def make_context(home: Path) -> AppContext:
    """A context whose config, cache and logs all live under `home`."""
    return build_context(resolve_paths({"GAVEL_HOME": str(home)}))


def dead_url() -> str:
    """An http:// URL on loopback where nothing listens (the port was just freed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def sample_snapshot(
    registry: str, count: int, prefix: str = "model"
) -> tuple[list[RegisteredModel], list[ModelVersion], dict[str, Run]]:
    """`count` models with 1-4 versions, tags, aliases and one run per version."""
    models: list[RegisteredModel] = []
    versions: list[ModelVersion] = []
    runs: dict[str, Run] = {}
    for i in range(count):
        name = f"{prefix}-{i:04d}"
        n_versions = 1 + i % 4
        tags = {"team": TEAMS[i % len(TEAMS)]}
        if i % 7:
            tags["owner"] = f"owner{i % 5}@example.com"
        if TIERS[i % len(TIERS)]:
            tags["risk_tier"] = TIERS[i % len(TIERS)]
        aliases = {"champion": n_versions} if i % 3 == 0 else {}
        models.append(
            RegisteredModel(
                name=name,
                description=f"Sample model {i}.",
                creation_timestamp=BASE_MS,
                last_updated_timestamp=BASE_MS + i * 3_600_000,
                tags=tags,
                aliases=aliases,
            )
        )
        for v in range(1, n_versions + 1):
            run_id = f"{registry}-{name}-run-{v}"
            versions.append(
                ModelVersion(
                    model_name=name,
                    version=v,
                    creation_timestamp=BASE_MS + v * 60_000,
                    user_id="trainer",
                    source=f"models:/{name}/{v}",
                    run_id=run_id,
                    status="READY",
                )
            )
            runs[run_id] = Run(
                run_id=run_id,
                experiment_id="1",
                run_name=f"{name}-v{v}-training",
                user_id="trainer",
                status="FINISHED",
                start_time=BASE_MS,
                end_time=BASE_MS + 600_000,
                params={"max_depth": str(3 + v), "learning_rate": "0.1"},
                metrics={"val_auc": MetricPoint("val_auc", 0.7 + v / 100, 10, BASE_MS)},
                datasets=(
                    DatasetInput("training_set", f"d{v:07d}", "path", "/data/x", "training"),
                ),
            )
    return models, versions, runs


def seed_cache(ctx: AppContext, registry: str, count: int, prefix: str = "model") -> None:
    """Write a synthetic snapshot straight into the cache (no server involved)."""
    models, versions, runs = sample_snapshot(registry, count, prefix)
    SnapshotWriter(ctx.db).write(
        registry, f"http://{registry}.invalid", models, versions, runs, datetime.now(UTC)
    )


class SpyPortfolio(PortfolioService):
    """A PortfolioService that records which model keys each rows() call asked for."""

    def __init__(self, inner: PortfolioService) -> None:
        self._inner = inner
        self.row_requests: list[list[int]] = []
        self.key_queries = 0

    def model_keys(
        self,
        text: str = "",
        registry: str | None = None,
        sort: PortfolioSort = PortfolioSort.NAME,
        descending: bool = False,
        team: str | None = None,
        only: Sequence[tuple[str, str]] | None = None,
    ) -> list[int]:
        self.key_queries += 1
        return self._inner.model_keys(text, registry, sort, descending, team, only)

    def rows(self, keys: Sequence[int]) -> dict[int, PortfolioRow]:
        self.row_requests.append(list(keys))
        return self._inner.rows(keys)

    @property
    def rows_fetched(self) -> int:
        return sum(len(r) for r in self.row_requests)


def _live_top_levels() -> set[int]:
    return {id(w) for w in QApplication.topLevelWidgets() if isinstance(w, QWidget)}


@pytest.fixture
def no_leaks(qapp: QApplication) -> Iterator[None]:
    """Fail a test that leaves top-level widgets or worker threads behind."""
    before_widgets = _live_top_levels()
    before_threads = {t.ident for t in threading.enumerate()}
    yield
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QCoreApplication.processEvents()
    # Closed is not enough: a hidden window that was never deleted is a leak too.
    leaked = [w for w in QApplication.topLevelWidgets() if id(w) not in before_widgets]
    assert not leaked, f"top-level widgets not deleted: {[type(w).__name__ for w in leaked]}"
    assert QThreadPool.globalInstance().waitForDone(5000)
    alive = [
        t
        for t in threading.enumerate()
        if t.ident not in before_threads
        and not isinstance(t, threading._DummyThread)  # Qt's pool threads that ran Python
        and t.is_alive()
    ]
    for t in alive:
        t.join(timeout=5)
    still = [t.name for t in alive if t.is_alive()]
    assert not still, f"threads left running: {still}"


def save_screenshot(widget: QWidget, name: str) -> Path:
    """Grab the widget (offscreen works) into artifacts/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    QCoreApplication.processEvents()
    assert widget.grab().save(str(path)), f"could not save {path}"
    return path
