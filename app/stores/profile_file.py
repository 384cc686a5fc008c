"""profile.toml: which person this desktop acts as, and where the team ledger lives.

It holds no authority and no secret: ``user_id`` only says which signing key to
unlock (the key and its passphrase carry the authority), policies live in the ledger,
and the ledger's password lives in the keyring.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.domain.errors import ConfigError
from app.stores.toml_file import read_toml, update_toml

log = logging.getLogger("gavel.profile")

_KEYS = {"user_id", "team_ledger_url"}
# Keys older Gavels wrote into every profile. They carried authority then; now they
# are read by nobody, so a file that still has them keeps working.
_IGNORED = {"display_name", "registry_usernames"}
_REFUSED = {
    "policies": (
        "policies no longer live in profile.toml: they are recorded in the ledger by an "
        "admin ('gavel policy set'), so one desktop cannot lower them. Remove the "
        "[policies] tables from this file."
    ),
}


@dataclass(frozen=True)
class Profile:
    user_id: str = ""
    # postgresql+psycopg://user@host/db — the password is in the keyring, never here.
    team_ledger_url: str = ""


class ProfileFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Profile:
        data = read_toml(self.path)
        for key, sentence in _REFUSED.items():
            if key in data:
                raise ConfigError(f"{self.path}: {sentence}")
        unknown = set(data) - _KEYS - _IGNORED
        if unknown:
            raise ConfigError(f"{self.path}: unknown key(s) {', '.join(sorted(unknown))}.")
        ignored = sorted(set(data) & _IGNORED)
        if ignored:
            log.info("%s: ignoring %s (the ledger holds them now)", self.path, ", ".join(ignored))
        return Profile(
            user_id=str(data.get("user_id", "")),
            team_ledger_url=str(data.get("team_ledger_url", "")),
        )

    def save(self, profile: Profile) -> None:
        def change(data: dict[str, Any]) -> None:
            data.clear()
            data["user_id"] = profile.user_id
            if profile.team_ledger_url:
                data["team_ledger_url"] = profile.team_ledger_url

        update_toml(self.path, change)
