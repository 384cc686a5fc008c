"""The ledger is not the cache: its own file, damage told apart from tampering, the
0.1 ledger archived rather than lost, and a solo ledger never silently turned into
a team replica."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from app.bootstrap import build_context
from app.domain.errors import CacheCorrupt, ConfigError
from app.domain.ledger import LedgerAction, LedgerDraft, ProblemKind
from app.services.ledger_export import verify_export
from app.stores.engine import Database, make_engine, sqlite_url
from app.stores.ledger_store import LedgerStore
from app.stores.migrate import alembic_config
from app.stores.paths import AppPaths, resolve_paths
from app.stores.profile_file import Profile, ProfileFile
from tests.fixtures.mlflow import MlflowRegistry
from tests.test_cli import gavel

PASS = "ada-passphrase"


def _solo(tmp_path: Path) -> AppPaths:
    paths = resolve_paths({"GAVEL_HOME": str(tmp_path / "home")})
    paths.ensure()
    return paths


def test_the_cache_can_be_thrown_away_and_the_ledger_stays(
    tmp_path: Path, seeded_registry: MlflowRegistry
) -> None:
    paths = _solo(tmp_path)
    ctx = build_context(paths)
    ctx.membership.init_identity("ada", "Ada", (), PASS)
    ctx.registries.add(seeded_registry.config("reg"))
    ctx.sync.sync("reg")
    head = ctx.audit.store.head()
    ctx.close()
    assert paths.ledger_db.exists() and head is not None and head.seq > 5

    paths.cache_db.unlink()
    for suffix in ("-wal", "-shm"):
        Path(f"{paths.cache_db}{suffix}").unlink(missing_ok=True)
    again = build_context(paths)
    try:
        assert again.actor.me().user_id == "ada"
        again.sync.sync("reg")  # the cache is rebuilt from the registry
        assert again.portfolio.all_rows("reg")
        assert again.audit.store.head().seq >= head.seq  # type: ignore[union-attr]
        assert again.authority.verify().ok
    finally:
        again.close()


def test_a_damaged_cache_says_it_is_only_a_copy(tmp_path: Path) -> None:
    paths = _solo(tmp_path)
    build_context(paths).close()
    paths.cache_db.write_bytes(b"this is not a database" * 200)
    with pytest.raises(CacheCorrupt) as caught:
        build_context(paths)
    assert "local cache" in caught.value.message and "not affected" in caught.value.message
    assert str(paths.cache_db) in caught.value.message


def test_a_damaged_ledger_says_do_not_delete_it(tmp_path: Path) -> None:
    paths = _solo(tmp_path)
    build_context(paths).close()
    paths.ledger_db.write_bytes(b"this is not a database" * 200)
    with pytest.raises(CacheCorrupt) as caught:
        build_context(paths)
    assert "audit ledger" in caught.value.message and "do not delete it" in caught.value.message


def test_a_damaged_page_is_reported_as_damage_not_as_removed_events(tmp_path: Path) -> None:
    paths = _solo(tmp_path)
    ctx = build_context(paths)
    store = ctx.audit.store
    for i in range(3000):
        store.append(
            LedgerDraft(
                "gavel-sync",
                LedgerAction.ALIAS_OBSERVED.value,
                f"model:r/m{i}",
                after={"alias": "a", "version": i},
                reason="x" * 200,
            )
        )
    ctx.close()
    # Checkpoint the WAL so the rows are in the main file, then spoil a page in the middle.
    engine = make_engine(sqlite_url(paths.ledger_db))
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    data = bytearray(paths.ledger_db.read_bytes())
    middle = (len(data) // 4096 // 2) * 4096
    data[middle + 8 : middle + 4096] = b"\xff" * (4096 - 8)
    paths.ledger_db.write_bytes(bytes(data))

    report = build_context(paths).audit.verify()
    assert report.problem is not None
    assert report.problem.kind is ProblemKind.DAMAGED
    assert "not a sign that events were removed" in report.problem.message


def test_the_ledger_of_gavel_0_1_is_archived_verifiable_never_dropped(tmp_path: Path) -> None:
    from alembic import command

    paths = _solo(tmp_path)
    # A cache as Gavel 0.1 left it: migrated to 0003, with its ledger inside.
    engine = make_engine(sqlite_url(paths.cache_db))
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
    old = LedgerStore(Database(engine))
    for i in range(5):
        old.append(LedgerDraft("ada", "role.granted", "user:ann", after={"n": i}))
    engine.dispose()

    ctx = build_context(paths)
    try:
        archive = paths.legacy_ledger_archive
        report = verify_export(archive)
        # Its chain is whole; its role grants were never signed, and verifying the
        # archive says so for each of them (they count for nothing).
        assert not report.chain_broken and report.events_checked == 5
        assert {p.kind for p in report.open_problems} == {ProblemKind.UNSIGNED}
        assert len(archive.read_bytes().splitlines()) == 5
        # The new ledger starts afresh in its own file; the cache no longer holds one.
        assert ctx.audit.store.head().seq == 1  # type: ignore[union-attr]
    finally:
        ctx.close()
    with make_engine(sqlite_url(paths.cache_db)).connect() as conn:
        tables = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master")}
    assert "ledger_events" not in tables


def test_a_solo_ledger_with_events_cannot_join_a_team(tmp_path: Path) -> None:
    team_url = sqlite_url(tmp_path / f"team-{uuid.uuid4().hex[:6]}.sqlite3")
    # A fresh profile joins; its own first event is not a record anyone needs.
    fresh = tmp_path / "fresh"
    joined = gavel(fresh, "team", "join", team_url)
    assert joined.returncode == 0, joined.stderr
    assert "team ledger" in gavel(fresh, "team", "status").stdout.lower()

    solo = tmp_path / "solo"
    init = gavel(solo, "identity", "init", "--user-id", "sol", "--passphrase-env", "PP",
                 env={"PP": "sol-passphrase"})  # fmt: skip
    assert init.returncode == 0, init.stderr
    refused = gavel(solo, "team", "join", team_url)
    assert refused.returncode == 1
    assert "cannot become the replica" in refused.stderr and "new profile" in refused.stderr
    # Nor into a team database nobody has used yet (it has no first event to compare).
    empty_team = sqlite_url(tmp_path / f"empty-team-{uuid.uuid4().hex[:6]}.sqlite3")
    refused = gavel(solo, "team", "join", empty_team)
    assert refused.returncode == 1 and "cannot become the replica" in refused.stderr
    # Editing profile.toml by hand is refused the same way: no false tamper alarm.
    paths = resolve_paths({"GAVEL_HOME": str(solo)})
    ProfileFile(paths.profile_file).save(Profile("sol", team_url))
    with pytest.raises(ConfigError, match="cannot become the replica"):
        build_context(paths)


def test_credentials_in_a_team_ledger_url_are_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc = gavel(home, "team", "join", "postgresql+psycopg://ada:s3cret@db.example/gavel")
    assert proc.returncode == 1 and "contains a password" in proc.stderr
    assert "s3cret" not in proc.stderr
    config = resolve_paths({"GAVEL_HOME": str(home)}).profile_file
    assert not config.exists() or "s3cret" not in config.read_text()
