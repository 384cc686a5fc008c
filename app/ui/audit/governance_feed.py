"""What the audit trail needs from governance, as a structural type (the governance
feature's state controller fits it; the console hands it over)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class GovernanceFeed(Protocol):
    """Who the people in the ledger are, who acts here, and when the ledger moved."""

    def known_users(self) -> list[str]: ...

    def acting_user(self) -> str | None: ...

    def on_change(self, callback: Callable[[], None]) -> None: ...

    def wrote(self) -> None:
        """This console wrote to the ledger (an export records itself)."""
        ...
