"""What the console needs from the composition root, as a structural type.

The ui layer sits below `app.bootstrap` and may not import it; `AppContext` fits
this protocol without knowing about it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from app.services.demo import DemoService
from app.services.portfolio import PortfolioService
from app.services.registries import RegistryService
from app.services.sync import SyncService
from app.services.sync_isolation import IsolatedSync


class ConsolePaths(Protocol):
    @property
    def config_dir(self) -> Path: ...

    @property
    def log_dir(self) -> Path: ...

    @property
    def log_file(self) -> Path: ...


class ConsoleContext(Protocol):
    @property
    def paths(self) -> ConsolePaths: ...

    @property
    def registries(self) -> RegistryService: ...

    @property
    def sync(self) -> SyncService: ...

    @property
    def isolated_sync(self) -> IsolatedSync: ...

    @property
    def portfolio(self) -> PortfolioService: ...

    @property
    def demo(self) -> DemoService: ...

    def close(self) -> None: ...
