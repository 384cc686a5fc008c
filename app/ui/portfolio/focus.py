"""What the portfolio offers the other features (`ModelFocus`): the model and version
the detail panel shows, its tabs, the versions list's context menu, the table's
markers, a signal after every sync, and a way to bring a model into view."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from app.domain.errors import GavelError
from app.domain.portfolio import ModelDetail, VersionRow
from app.ui.common.context import ConsoleContext
from app.ui.common.host import DetailTab, Host
from app.ui.portfolio import first_screen
from app.ui.portfolio.model_detail_view import ModelDetailView
from app.ui.portfolio.portfolio_model import PortfolioModel
from app.ui.portfolio.portfolio_view import PortfolioView
from app.ui.portfolio.registry_sidebar import RegistrySidebar
from app.ui.portfolio.sync_controller import SyncController

PORTFOLIO_PAGE = first_screen.PORTFOLIO_PAGE


class PortfolioFocus:
    def __init__(
        self,
        host: Host,
        ctx: ConsoleContext,
        model: PortfolioModel,
        view: PortfolioView,
        sidebar: RegistrySidebar,
        detail: ModelDetailView,
        syncer: SyncController,
    ) -> None:
        self._host = host
        self._ctx = ctx
        self._model = model
        self._view = view
        self._sidebar = sidebar
        self._detail = detail
        self._syncer = syncer

    # -- ModelFocus ------------------------------------------------------------------

    @property
    def model(self) -> ModelDetail | None:
        return self._detail.detail

    @property
    def version(self) -> VersionRow | None:
        return self._detail.selected_version

    def on_focus_changed(self, callback: Callable[[], None]) -> None:
        self._detail.version_selected.connect(lambda _version: callback())

    def on_synced(self, callback: Callable[[], None]) -> None:
        self._syncer.sync_finished.connect(lambda _outcomes: callback())
        self._syncer.model_refreshed.connect(lambda _registry, _model, _written: callback())

    def refresh_model(self, registry: str, model: str) -> None:
        # The portfolio's own slot (connected first) updates its views before the
        # features' on_synced callbacks run.
        self._syncer.refresh_model(registry, model)

    def show_model(self, registry: str, name: str, version: int | None = None) -> bool:
        self._host.select_page(PORTFOLIO_PAGE)
        try:
            key = self._ctx.portfolio.find_model(name, registry).model_key
        except GavelError as exc:
            self._host.show_status(exc.message)
            return False
        if key != self._detail.model_key and not self._view.select_key(key):
            # Listed under its own registry, perhaps; else the text filter hides it.
            self._sidebar.select_registry(registry)
            if not self._view.select_key(key):
                self._host.show_status(f"{name} is not in the portfolio shown; clear the filter.")
                self._detail.show_model(key)
        if version is not None:
            self._detail.select_version(version)
        return self._detail.model_key == key

    def show_models(self, title: str, models: tuple[tuple[str, str], ...]) -> None:
        self._host.select_page(PORTFOLIO_PAGE)
        # Across registries and teams, unfiltered by text: the list is the figure's.
        self._sidebar.select_registry(None)
        self._view.search.clear()
        self._view.apply_filter()
        self._view.choose_team(None)
        self._view.show_scope(title, models)

    def add_detail_tab(
        self,
        key: str,
        title: str,
        factory: Callable[[], DetailTab],
        *,
        tooltip: str = "",
        wide: bool = False,
        lazy: bool = True,
    ) -> None:
        self._detail.tabs.add_tab(key, title, factory, tooltip, wide, lazy)

    def show_detail_tab(self, key: str) -> None:
        self._detail.tabs.select(key)

    def add_version_action(self, action: QAction) -> None:
        self._detail.add_version_action(action)

    def add_detail_line(self, widget: QWidget) -> None:
        self._detail.add_detail_line(widget)

    def mark_violations(self, models: frozenset[tuple[str, str]]) -> None:
        self._model.set_flagged(models)

    def mark_serving_drift(self, drift: Mapping[tuple[str, str], str]) -> None:
        self._model.set_serving_drift(dict(drift))
