"""The portfolio page in the console: registries and their sync, the table of models,
the model detail panel, the offline and demo banners and the cache's freshness.

`PortfolioUi` registers all of it through the shell's host, and offers the other
features the model on screen through `focus` (see portfolio/focus.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QMessageBox, QSplitter, QWidget

from app.domain.cancel import CancelToken
from app.domain.errors import Cancelled, GavelError
from app.domain.portfolio import ModelDetail, RegistryStatus
from app.domain.progress import ProgressCallback
from app.domain.registry import RegistryConfig
from app.presentation import console_state
from app.presentation.console_state import SESSION_STATUS, EmptyAction
from app.services.sync import SyncOutcome
from app.ui.common.context import ConsoleContext
from app.ui.common.host import Host
from app.ui.common.settings import read_bytes, read_int, read_str
from app.ui.common.tasks import TaskHandle, TaskRunner
from app.ui.common.widgets import Banner
from app.ui.portfolio.actions import build_actions, register_actions
from app.ui.portfolio.focus import PORTFOLIO_PAGE, PortfolioFocus
from app.ui.portfolio.link_monitor import LinkMonitor
from app.ui.portfolio.model_detail_view import ModelDetailView
from app.ui.portfolio.portfolio_model import (
    COLUMN_OF_SORT,
    SORT_OF_COLUMN,
    Column,
    PortfolioModel,
    PortfolioRead,
)
from app.ui.portfolio.portfolio_view import PortfolioView
from app.ui.portfolio.registry_dialog import RegistryDialog
from app.ui.portfolio.registry_sidebar import RegistrySidebar
from app.ui.portfolio.sync_controller import SyncController
from app.ui.portfolio.sync_status import SyncStatus

log = logging.getLogger("gavel.ui")

REFRESH_TASK = "portfolio-refresh"

# Relative times ("synced 5 minutes ago") are refreshed this often.
TICK_MS = 30_000

ConfirmHook = Callable[[QWidget, str, str], bool]


def ask_to_confirm(parent: QWidget, title: str, text: str) -> bool:
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, parent=parent)
    remove = box.addButton("Remove", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return box.clickedButton() is remove


@dataclass(frozen=True)
class PostSyncRead:
    """What the console re-reads after a sync, read on a worker."""

    statuses: list[RegistryStatus]
    portfolio: PortfolioRead
    detail_key: int | None
    detail: ModelDetail | None
    teams: list[str]


class PortfolioUi(QObject):
    def __init__(
        self,
        host: Host,
        ctx: ConsoleContext,
        runner: TaskRunner,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__()
        self.host = host
        self.ctx = ctx
        self.runner = runner
        self.clock = clock
        self.confirm: ConfirmHook = ask_to_confirm
        self.statuses: list[RegistryStatus] = []
        # An audit session: the bundle's snapshot, no registry to reach or change.
        self.session = ctx.session

        self.portfolio_model = PortfolioModel(ctx.portfolio, self, clock=clock)
        settings = host.settings
        sort_column = read_int(settings, "portfolio/sort_column", Column.MODEL)
        if 0 <= sort_column < len(Column) and Column(sort_column) in SORT_OF_COLUMN:
            self.portfolio_model.set_sort(
                SORT_OF_COLUMN[Column(sort_column)],
                read_int(settings, "portfolio/sort_descending", 0) == 1,
            )
        self.sidebar = RegistrySidebar()
        self.portfolio_view = PortfolioView(self.portfolio_model)
        self.detail_view = ModelDetailView(ctx.portfolio, runner=runner)
        self.content_splitter = QSplitter(Qt.Orientation.Vertical)
        self.content_splitter.setObjectName("ContentSplitter")
        self.content_splitter.addWidget(self.portfolio_view)
        self.content_splitter.addWidget(self.detail_view)
        self.content_splitter.setStretchFactor(0, 3)
        self.content_splitter.setStretchFactor(1, 2)
        self.main_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.main_splitter.setObjectName("MainSplitter")
        self.main_splitter.addWidget(self.sidebar)
        self.main_splitter.addWidget(self.content_splitter)
        self.main_splitter.setStretchFactor(1, 1)
        # Dragging the sidebar away entirely hid the registries with no way back visible.
        self.main_splitter.setCollapsible(0, False)
        self.main_splitter.setSizes([190, 1170])
        # The page owns this object: it lives and dies with the window.
        self.setParent(self.main_splitter)
        self.syncer = SyncController(ctx, runner, self)
        self.links = LinkMonitor(ctx, runner, parent=self)

        self.failure_banner = Banner("offline", "offline")
        self.failure_banner.add_button("Retry", lambda: self.sync_now())
        self.demo_banner = Banner("demo", "demo")
        host.add_banner(self.failure_banner)
        host.add_banner(self.demo_banner)
        host.add_page(
            PORTFOLIO_PAGE,
            "Portfolio",
            self.main_splitter,
            tooltip="Models, their versions and the runs behind them",
        )
        self.actions = build_actions(self)
        register_actions(host, self.actions, self.portfolio_view.focus_filter_action)
        self.status = SyncStatus(host)
        self.focus = PortfolioFocus(
            host,
            ctx,
            self.portfolio_model,
            self.portfolio_view,
            self.sidebar,
            self.detail_view,
            self.syncer,
        )
        self._connect()
        self._tick_timer = QTimer(self)
        self._tick_timer.setInterval(TICK_MS)
        self._tick_timer.timeout.connect(self._tick)
        self._tick_timer.start()
        host.on_close(self.save_settings)
        host.on_shutdown(self._tick_timer.stop)
        host.on_shutdown(self.links.stop)
        saved_registry = self._restore_settings()
        self.reload_registries(select=saved_registry)
        self.portfolio_model.set_filter(registry=self.selected_registry)
        self._read_teams()
        self._update_page()

    def _read_teams(self) -> None:
        try:
            self.portfolio_view.set_teams(self.ctx.portfolio.teams())
        except GavelError as exc:
            self.host.show_notice(exc.message)

    def _connect(self) -> None:
        a = self.actions
        a.add_registry.triggered.connect(self.add_registry)
        a.start_demo.triggered.connect(self.start_demo)
        # Lambdas: triggered(bool) would otherwise land in sync_now's `names`.
        a.sync.triggered.connect(lambda: self.sync_now())
        a.cancel.triggered.connect(self.syncer.cancel)
        a.edit_registry.triggered.connect(
            lambda: self.edit_registry(self.sidebar.selected_registry)
        )
        a.remove_registry.triggered.connect(
            lambda: self.remove_registry(self.sidebar.selected_registry)
        )
        a.show_sidebar.toggled.connect(self.sidebar.setVisible)
        a.show_detail.toggled.connect(self.detail_view.setVisible)
        self.sidebar.registry_selected.connect(self._registry_selected)
        self.sidebar.sync_requested.connect(lambda name: self.sync_now([name]))
        self.sidebar.edit_requested.connect(self.edit_registry)
        self.sidebar.remove_requested.connect(self.remove_registry)
        self.portfolio_view.model_selected.connect(self.detail_view.show_model)
        self.portfolio_model.modelReset.connect(self._update_page)
        self.portfolio_model.load_failed.connect(self.host.show_notice)
        self.syncer.task_started.connect(self._task_started)
        self.syncer.sync_finished.connect(self._sync_finished)
        self.syncer.sync_failed.connect(self._sync_failed)
        self.syncer.demo_ready.connect(self.reload_registries)
        self.syncer.demo_failed.connect(self._demo_failed)
        self.links.changed.connect(self._links_changed)
        self.syncer.model_refreshed.connect(self._model_refreshed)
        self.syncer.refresh_failed.connect(self._model_refresh_failed)

    # -- start-up ------------------------------------------------------------------

    def start(self, start_demo: bool) -> None:
        """After show: the liveness checks, once the window painted; the demo when the
        profile is empty or already has one."""
        if self.session is not None:
            return  # nothing to check or start: a session reaches no registry
        self.host.after_first_paint(self.links.start)
        if start_demo and (not self.statuses or self.ctx.demo.configured() is not None):
            self.start_demo()

    # -- registries ------------------------------------------------------------------

    @property
    def selected_registry(self) -> str | None:
        return self.sidebar.selected_registry

    def reload_registries(self, select: str | None = None) -> None:
        """Re-read registry statuses; keeps the selected registry when it still exists."""
        try:
            self.statuses = self.ctx.registries.statuses()
            snapshots = self.ctx.registries.snapshots()
        except GavelError as exc:
            self.host.show_notice(exc.message)
            self.statuses, snapshots = [], []
        self.sidebar.set_snapshots(
            snapshots,
            "Read from the audit bundle: nothing is synced in an audit session."
            if self.session is not None
            else "Snapshot kept when the registry was removed; add the registry again to sync it.",
        )
        self.sidebar.set_statuses(self.statuses, select, self.links.links, self.clock())
        if self.selected_registry != self.portfolio_model.registry:
            # The selected registry went away (removed, renamed): follow the sidebar.
            self.portfolio_model.set_filter(registry=self.selected_registry)
        self._refresh_state()

    def _registry_selected(self, name: str | None) -> None:
        self.portfolio_model.set_filter(registry=name)
        self._refresh_state()

    def add_registry(self) -> None:
        dialog = RegistryDialog(self.ctx.registries, self.runner, None, self.main_splitter)
        if dialog.exec() and dialog.saved is not None:
            self._after_save(dialog.saved)

    def edit_registry(self, name: str | None) -> None:
        if name is None:
            return
        try:
            cfg = self.ctx.registries.get(name)
        except GavelError as exc:
            self.host.show_notice(exc.message)
            return
        dialog = RegistryDialog(self.ctx.registries, self.runner, cfg, self.main_splitter)
        if dialog.exec() and dialog.saved is not None:
            self._after_save(dialog.saved)

    def _after_save(self, cfg: RegistryConfig) -> None:
        self.reload_registries()
        self.sidebar.select_registry(cfg.name)
        self.sync_now([cfg.name])

    def remove_registry(self, name: str | None) -> None:
        if name is None:
            return
        count = next((s.model_count for s in self.statuses if s.name == name), 0)
        text = (
            f"Gavel will forget the registry “{name}” and its stored secret, and delete "
            f"its cached data from this computer ({count} models with their versions and "
            "runs). The registry itself is not changed; you can add it again and sync."
        )
        if not self.confirm(self.main_splitter, f"Remove registry “{name}”?", text):
            return
        try:
            is_demo = self.ctx.registries.get(name).is_demo
            self.ctx.registries.remove(name)
        except GavelError as exc:
            self.host.show_notice(exc.message)
            return
        if is_demo:
            self.syncer.stop_demo()
        self.syncer.failure_kinds.pop(name, None)
        self.links.forget(name)
        self.reload_registries()
        self.host.show_status(f"Removed registry “{name}” and its cached data.")

    def start_demo(self) -> None:
        if self.syncer.start_demo() is not None:
            self._update_page()

    # -- sync ----------------------------------------------------------------------

    @property
    def settled(self) -> bool:
        """No sync or demo start running and what the last one changed is on screen."""
        return not self.syncer.busy and not self.runner.is_running(REFRESH_TASK)

    def sync_now(self, names: list[str] | None = None) -> None:
        """F5: sync the registry on screen (all of them under 'All registries')."""
        if names is None and self.selected_registry is not None:
            names = [self.selected_registry]
        if self.syncer.busy:
            self.host.show_status("A sync is already running.")
            return
        if self.syncer.sync(names) is None:
            self.host.show_status("There is no registry to sync. Add one first.")

    def _task_started(self, handle: TaskHandle) -> None:
        self.host.track_task(handle)
        handle.finished.connect(self._refresh_state)
        self._refresh_state()

    def _sync_finished(self, outcomes: list[SyncOutcome]) -> None:
        """Re-read statuses, the portfolio's ids and first rows and the detail on a
        worker; the GUI thread only applies them, in one model reset."""
        self.links.record_sync(outcomes)
        registries, portfolio = self.ctx.registries, self.ctx.portfolio
        model, detail_view = self.portfolio_model, self.detail_view
        key, query = detail_view.model_key, model.query

        def read(cancel: CancelToken, progress: ProgressCallback) -> PostSyncRead:
            return PostSyncRead(
                registries.statuses(),
                model.read(portfolio, query, keep=key),
                key,
                detail_view.read(key),
                portfolio.teams(),
            )

        self.runner.run(
            read,
            key=REFRESH_TASK,
            on_success=lambda r: self._apply_refresh(r, outcomes),
            on_failure=lambda exc: self._post_sync_read_failed(exc, outcomes),
        )

    def _post_sync_read_failed(self, exc: GavelError, outcomes: list[SyncOutcome]) -> None:
        self.host.show_notice(exc.message)
        self.reload_registries()
        self._report_sync(outcomes)

    def _apply_refresh(self, read: PostSyncRead, outcomes: list[SyncOutcome]) -> None:
        self.statuses = read.statuses
        self.portfolio_view.set_teams(read.teams)
        self.sidebar.set_statuses(self.statuses, None, self.links.links, self.clock())
        if self.selected_registry != self.portfolio_model.registry:
            self.portfolio_model.set_filter(registry=self.selected_registry)
        else:
            self.detail_view.prefetched(read.detail_key, read.detail)
            self.portfolio_model.apply(read.portfolio)
            self.detail_view.show_prefetched()
        self._refresh_state()
        self._report_sync(outcomes)

    def _report_sync(self, outcomes: list[SyncOutcome]) -> None:
        ok = [o for o in outcomes if o.result is not None]
        failed = [o for o in outcomes if o.error is not None]
        if ok and not failed:
            models = sum(o.result.models for o in ok if o.result is not None)
            self.host.show_status(f"Synced {', '.join(o.registry for o in ok)}: {models} models.")
        elif failed:
            self.host.show_status(f"Sync failed for {', '.join(o.registry for o in failed)}.")

    def _sync_failed(self, message: str) -> None:
        self.reload_registries()
        self.host.show_status(message)

    def _model_refreshed(self, registry: str, model: str, written: bool) -> None:
        """A targeted refresh re-read one model: every view shows it now."""
        self.links.record_sync([SyncOutcome(registry, None)])
        if not written:
            self.host.show_status(f"{model} is not in the cache yet; sync {registry} to add it.")
            return
        self.reload_registries()
        self.portfolio_model.refresh()
        self._read_teams()
        self.detail_view.reload()

    def _model_refresh_failed(self, registry: str, model: str, error: GavelError) -> None:
        if isinstance(error, Cancelled):
            return  # superseded by a newer refresh, or the window is closing
        self.links.record_sync([SyncOutcome(registry, None, error)])
        self.host.show_status(
            f"{model} could not be re-read from {registry}; the portfolio shows it as of "
            f"the last sync. {error.message}"
        )

    def _links_changed(self) -> None:
        """A liveness check (or a sync) found something: sidebar, status bar, banner."""
        self.sidebar.set_statuses(self.statuses, None, self.links.links, self.clock())
        self._refresh_state()

    def _demo_failed(self, message: str) -> None:
        self.host.show_notice(message)
        self._refresh_state()

    # -- state on screen -----------------------------------------------------------

    def _refresh_state(self) -> None:
        now = self.clock()
        selected = self.selected_registry
        banner = console_state.failure_banner(
            self.statuses, selected, self.syncer.failure_kinds, now, self.links.links
        )
        if banner is None:
            self.failure_banner.hide()
        else:
            self.failure_banner.set_kind(banner.kind.value, banner.kind.value)
            self.failure_banner.show_text(banner.text)
        if console_state.shows_demo(self.statuses, selected):
            self.demo_banner.show_text(
                console_state.DEMO_STORY_BANNER
                if self.ctx.demo.tells_a_story
                else console_state.DEMO_BANNER
            )
        else:
            self.demo_banner.hide()
        self.status.set_connectivity(*console_state.connectivity(self.statuses, self.links.links))
        self.status.set_synced(*console_state.freshness(self.statuses, selected, now))
        a = self.actions
        busy = self.syncer.busy
        a.sync.setEnabled(bool(self.statuses) and not busy)
        a.sync.setText(f"Sync {selected}" if selected else "Sync")
        a.cancel.setEnabled(busy)
        a.edit_registry.setEnabled(selected is not None)
        a.remove_registry.setEnabled(selected is not None)
        demo_missing = self.ctx.demo.configured() is None and not self.ctx.demo.running
        a.start_demo.setVisible(demo_missing)
        a.start_demo.setEnabled(demo_missing and not busy)
        if self.session is not None:
            self._show_session_state()
        self._update_page()

    def _show_session_state(self) -> None:
        """Actions that would write or reach a registry are off, and say why; the status
        bar names the session instead of 'No registries'."""
        why = f"{SESSION_STATUS}: nothing is synced, added or changed."
        a = self.actions
        for action in (a.add_registry, a.sync, a.start_demo, a.edit_registry, a.remove_registry):
            action.setEnabled(False)
            action.setToolTip(why)
        a.start_demo.setVisible(False)
        assert self.session is not None
        made = str(self.session.manifest.get("made_at", "?")).replace("T", " ").replace("Z", " UTC")
        self.status.set_connectivity(
            None,
            SESSION_STATUS,
            "An audit session over a bundle: it contacts no registry and no endpoint, and "
            "nothing can be decided in its ledger. Findings are kept in your own profile.",
        )
        self.status.set_synced(
            f"Snapshot of {made}", "When the bundle was made: what the registry showed then"
        )

    def _update_page(self) -> None:
        view = self.portfolio_view
        has_rows = self.portfolio_model.rowCount() > 0
        self.detail_view.set_portfolio_empty(not has_rows)
        if has_rows:
            view.stack.setCurrentWidget(view.table)
            return
        view.stack.setCurrentWidget(view.empty)
        if self.session is not None:
            view.empty.set_content(
                "No models in this bundle",
                "The bundle holds no model for its scope (or none matches the filter).",
                [("Clear filter", view.search.clear)] if self.portfolio_model.filter_text else [],
            )
            return
        content = console_state.portfolio_empty_state(
            self.statuses,
            self.selected_registry,
            self.portfolio_model.filter_text,
            syncing=self.syncer.syncing,
            starting_demo=self.syncer.starting_demo,
        )
        actions = {
            EmptyAction.ADD_REGISTRY: ("Add a registry…", self.add_registry),
            EmptyAction.START_DEMO: ("Start the demo", self.start_demo),
            EmptyAction.CLEAR_FILTER: ("Clear filter", view.search.clear),
            EmptyAction.SYNC: ("Sync now (F5)", lambda: self.sync_now()),
        }
        view.empty.set_content(content.title, content.text, [actions[a] for a in content.actions])

    def _tick(self) -> None:
        self.portfolio_model.touch_times()
        self.sidebar.set_statuses(self.statuses, None, self.links.links, self.clock())
        self._refresh_state()

    # -- settings --------------------------------------------------------------------

    def _restore_settings(self) -> str | None:
        """Splitters, columns and sort; returns the registry to select."""
        s = self.host.settings
        for key, splitter in (
            ("splitters/main", self.main_splitter),
            ("splitters/content", self.content_splitter),
            ("splitters/detail", self.detail_view.splitter),
        ):
            state = read_bytes(s, key)
            if state is not None:
                splitter.restoreState(state)
        header_state = read_bytes(s, "portfolio/header")
        if header_state is not None:
            self.portfolio_view.table.horizontalHeader().restoreState(header_state)
        sort, descending = self.portfolio_model.sort_key
        self.portfolio_view.restore_sort(
            COLUMN_OF_SORT[sort],
            Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder,
        )
        return read_str(s, "portfolio/registry")

    def save_settings(self) -> None:
        s = self.host.settings
        s.setValue("splitters/main", self.main_splitter.saveState())
        s.setValue("splitters/content", self.content_splitter.saveState())
        s.setValue("splitters/detail", self.detail_view.splitter_state())
        s.setValue("portfolio/header", self.portfolio_view.table.horizontalHeader().saveState())
        sort, descending = self.portfolio_model.sort_key
        s.setValue("portfolio/sort_column", int(COLUMN_OF_SORT[sort]))
        s.setValue("portfolio/sort_descending", 1 if descending else 0)
        s.setValue("portfolio/registry", self.selected_registry or "")
