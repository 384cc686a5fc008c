"""Joining a team ledger: check the URL and the connection, keep the password in the
keyring, and make sure this profile's own ledger can become a replica of the team's."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import make_url

from app.connectors.credentials import CredentialStore
from app.domain.errors import ConfigError, GavelError
from app.services.identity import IdentityService
from app.stores.engine import check_ledger_url
from app.stores.ledger_store import LedgerStore
from app.stores.migrate import open_ledger_database

TEAM_LEDGER_SECRET = "team-ledger"
META_REPLICA_OF = "replica_of"


def join_team(
    identity: IdentityService,
    credentials: CredentialStore,
    local: LedgerStore,
    url: str,
    user: str = "",
    password: str = "",
) -> str:
    """Point this profile at the team ledger at ``url``; returns where it is (no password).

    Refused with a sentence, and nothing changed, when the database cannot be reached or
    this profile's ledger holds events of its own (solo work): those would have to be
    thrown away, and a ledger never is.
    """
    check_ledger_url(url)
    parsed = make_url(url)
    if user:
        parsed = parsed.set(username=user)
    where = parsed.render_as_string(hide_password=True)
    with_password = parsed.set(password=password) if password else parsed
    try:
        shared_db = open_ledger_database(with_password.render_as_string(hide_password=False))
    except GavelError as exc:
        raise ConfigError(f"Could not join the team ledger at {where}: {exc.message}") from None
    try:
        shared_genesis = LedgerStore(shared_db).genesis_hash()
    finally:
        shared_db.dispose()
    head = local.head()
    replica_of = local.meta(META_REPLICA_OF)
    # A new team database has no genesis yet (None): a profile that never was a
    # replica (replica_of None) must not slip through as if the two matched.
    if head is not None and head.seq > 1 and (replica_of is None or replica_of != shared_genesis):
        raise ConfigError(
            f"This profile's own audit ledger ({local.where}) already holds {head.seq:,} "
            "events, so it cannot become the replica of a team ledger. Keep its record with "
            "'gavel audit export --out FILE', then join the team from a new profile "
            "(set GAVEL_HOME to a new folder)."
        )
    if password:
        credentials.set(TEAM_LEDGER_SECRET, password)
    profile = identity.profile()
    identity.save_profile(replace(profile, team_ledger_url=where))
    return where
