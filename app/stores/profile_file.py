"""profile.toml: who this desktop's user is, and where the team ledger lives.

Holds no secret: the signing key and the ledger password live in the keyring.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.domain.errors import ConfigError
from app.stores.toml_file import read_toml, write_toml

_KEYS = {"user_id", "display_name", "registry_usernames", "team_ledger_url", "policies"}


@dataclass(frozen=True)
class Profile:
    user_id: str = ""
    display_name: str = ""
    registry_usernames: tuple[str, ...] = ()
    # postgresql+psycopg://user@host/db — the password is in the keyring, never here.
    team_ledger_url: str = ""
    # tier -> policy table (see domain.governance.Policy.to_json); empty: defaults.
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)


class ProfileFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Profile:
        data = read_toml(self.path)
        unknown = set(data) - _KEYS
        if unknown:
            raise ConfigError(f"{self.path}: unknown key(s) {', '.join(sorted(unknown))}.")
        names = data.get("registry_usernames", [])
        policies = data.get("policies", {})
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ConfigError(f"{self.path}: 'registry_usernames' must be a list of strings.")
        if not isinstance(policies, dict):
            raise ConfigError(f"{self.path}: 'policies' must be a table of tables.")
        return Profile(
            user_id=str(data.get("user_id", "")),
            display_name=str(data.get("display_name", "")),
            registry_usernames=tuple(names),
            team_ledger_url=str(data.get("team_ledger_url", "")),
            policies=policies,
        )

    def save(self, profile: Profile) -> None:
        data: dict[str, Any] = {
            "user_id": profile.user_id,
            "display_name": profile.display_name,
            "registry_usernames": list(profile.registry_usernames),
        }
        if profile.team_ledger_url:
            data["team_ledger_url"] = profile.team_ledger_url
        if profile.policies:
            data["policies"] = profile.policies
        write_toml(self.path, data)
