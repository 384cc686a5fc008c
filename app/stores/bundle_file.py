"""The bundle file: one SQLite database, deflate-compressed, holding the cache's schema,
the ledger's schema and tables of its own (``bundle_endpoints``, ``bundle_keys``,
``bundle_manifest``).

Holding the cache and ledger schemas as they are lets every read path of Gavel open a
copy of the bundle as its cache and as its ledger, unchanged (see services.bundles).

Canonical content of a table (what the manifest's SHA-256 covers): its rows ordered by
primary key, each written as a JSON array of its column values in the order the
schema declares them (``json.dumps`` with ``separators=(",", ":")``, non-ASCII kept,
blobs as base64 strings, NaN and infinities spelled NaN/Infinity), one line each,
ending in "\\n". The file's bytes are not hashed: SQLite may lay out the same rows
differently, and a verifier needs the table that changed, not only that one did.

On disk (``pack``/``unpack``): the line ``GAVEL-BUNDLE/deflate`` then the zlib stream of
the database, written without its secondary indexes (``drop_secondary_indexes``) and
vacuumed; a session rebuilds the indexes in its copy (``rebuild_indexes``), from
Gavel's own schema, never from the bundle. The manifest covers the tables' content, so
compression changes nothing of what is verified. An uncompressed database is read too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path

from app.domain.bundle import PART_TABLES, BundleError, BundlePart, BundleScope, TableDigest
from app.domain.cancel import CancelToken
from app.domain.ledger_keys import EnrolledKey
from app.stores.engine import sqlite_url
from app.stores.migrate import open_database, open_ledger_database

_BUNDLE_TABLES = """
CREATE TABLE IF NOT EXISTS bundle_keys (
    key_id TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    public_key TEXT NOT NULL,
    enrolled_seq INTEGER NOT NULL,
    revoked_seq INTEGER
);
CREATE TABLE IF NOT EXISTS bundle_endpoints (
    name TEXT PRIMARY KEY,
    definition TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS bundle_manifest (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    manifest BLOB NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    signature BLOB NOT NULL,
    key_id TEXT NOT NULL
);
"""

_CHUNK = 5_000
PACKED_MAGIC = b"GAVEL-BUNDLE/deflate\n"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_IO_CHUNK = 1 << 20


def pack(database: Path, out: Path) -> None:
    """Compress a finished bundle database into the bundle file ``out``."""
    squeeze = zlib.compressobj(6)
    with database.open("rb") as src, out.open("wb") as dst:
        dst.write(PACKED_MAGIC)
        while chunk := src.read(_IO_CHUNK):
            dst.write(squeeze.compress(chunk))
        dst.write(squeeze.flush())
        dst.flush()
        os.fsync(dst.fileno())


def is_packed(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(len(PACKED_MAGIC)) == PACKED_MAGIC


def unpack(bundle: Path, to: Path) -> None:
    """The bundle's database at ``to`` (a copy when the bundle is not compressed)."""
    if not bundle.is_file():
        raise BundleError(f"There is no bundle at {bundle}.")
    try:
        with bundle.open("rb") as src:
            head = src.read(len(PACKED_MAGIC))
            if head.startswith(_SQLITE_MAGIC[: len(head)]) and head != PACKED_MAGIC:
                src.seek(0)
                with to.open("wb") as dst:
                    shutil.copyfileobj(src, dst, _IO_CHUNK)
                return
            if head != PACKED_MAGIC:
                raise BundleError(f"{bundle} is not an audit bundle.")
            inflate = zlib.decompressobj()
            with to.open("wb") as dst:
                while chunk := src.read(_IO_CHUNK):
                    dst.write(inflate.decompress(chunk))
                dst.write(inflate.flush())
            if not inflate.eof:
                raise BundleError(f"The audit bundle {bundle} is cut short (its end is missing).")
    except zlib.error as exc:
        raise BundleError(f"The audit bundle {bundle} is damaged ({exc}).") from None
    except OSError as exc:
        raise BundleError(f"Cannot read the bundle {bundle}: {exc.strerror or exc}.") from None


@contextmanager
def unpacked(bundle: Path) -> Iterator[Path]:
    """The bundle's database for reading: the file itself, or a temporary inflated copy."""
    if bundle.is_file() and not is_packed(bundle):
        yield bundle
        return
    with tempfile.TemporaryDirectory(prefix="gavel-bundle-") as tmp:
        plain = Path(tmp) / "bundle.sqlite3"
        unpack(bundle, plain)
        yield plain


def drop_secondary_indexes(path: Path) -> None:
    """Drop the indexes the schema creates by name (not those of primary keys or UNIQUE
    constraints): a session rebuilds them, so the bundle need not carry them."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            )
        ]
        for name in names:
            conn.execute(f'DROP INDEX "{name}"')


def rebuild_indexes(path: Path) -> None:
    """Create in a bundle's database the secondary indexes Gavel's schema defines."""
    with tempfile.TemporaryDirectory(prefix="gavel-schema-") as tmp:
        schema = Path(tmp) / "schema.sqlite3"
        create_empty(schema)
        with closing(sqlite3.connect(schema)) as conn:
            wanted = conn.execute(
                "SELECT name, tbl_name, sql FROM sqlite_master "
                "WHERE type = 'index' AND sql IS NOT NULL"
            ).fetchall()
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        have = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        conn.execute("BEGIN")
        for name, table, sql in wanted:
            if name not in have and table in have:
                conn.execute(sql)
        conn.execute("COMMIT")


def create_empty(path: Path) -> None:
    """A new bundle file at ``path`` with every schema and no rows."""
    for opener in (open_database, open_ledger_database):
        opener(sqlite_url(path)).dispose()
    with closing(sqlite3.connect(path)) as conn:
        conn.executescript(_BUNDLE_TABLES)
        # The ledger's first-run head row is the only row a migration writes.
        conn.commit()


@contextmanager
def writable(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def open_read_only(path: Path) -> sqlite3.Connection:
    """The bundle opened so that nothing, not even a journal, is written beside it."""
    if not path.is_file():
        raise BundleError(f"There is no bundle at {path}.")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BundleError(f"{path} is not an audit bundle (SQLite says: {exc}).") from None
    return conn


def _where(scope: BundleScope) -> dict[str, str]:
    """Per-table filters (SQL over the attached cache ``src``) for a scope."""
    reg = "1"
    if scope.registries:
        names = ",".join(_quote(n) for n in scope.registries)
        reg = f"name IN ({names})"
    registries = f"SELECT id FROM src.registries WHERE {reg}"
    model = f"registry_id IN ({registries})"
    if scope.models:
        model += f" AND name IN ({','.join(_quote(n) for n in scope.models)})"
    models = f"SELECT id FROM src.models WHERE {model}"
    version = f"model_id IN ({models})"
    if scope.since:
        version += f" AND (creation_ts IS NULL OR creation_ts >= {_epoch_ms(scope.since)})"
    versions = f"SELECT id FROM src.versions WHERE {version}"
    run = f"registry_id IN ({registries})"
    if scope.models or scope.since:
        run += f" AND run_id IN (SELECT run_id FROM src.versions WHERE {version})"
    runs = f"SELECT id FROM src.runs WHERE {run}"
    sample = "1" if not scope.since else f"at_ms >= {_epoch_ms(scope.since)}"
    return {
        "registries": reg,
        "models": model,
        "model_tags": f"model_id IN ({models})",
        "aliases": f"model_id IN ({models})",
        "versions": version,
        "version_tags": f"version_id IN ({versions})",
        "runs": run,
        "run_params": f"run_pk IN ({runs})",
        "run_tags": f"run_pk IN ({runs})",
        "run_metrics": f"run_pk IN ({runs})",
        "metric_history": f"run_pk IN ({runs})",
        "dataset_inputs": f"run_pk IN ({runs})",
        "endpoints": "1",
        "endpoint_samples": sample,
    }


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _epoch_ms(date: str) -> int:
    from datetime import UTC, datetime

    try:
        day = datetime.fromisoformat(date)
    except ValueError:
        raise BundleError(
            f"--since {date!r} is not a date; write it as YYYY-MM-DD (UTC)."
        ) from None
    if day.tzinfo is None:
        day = day.replace(tzinfo=UTC)
    return int(day.timestamp() * 1000)


def copy_cache(
    bundle: sqlite3.Connection,
    cache: Path,
    scope: BundleScope,
    cancel: CancelToken | None = None,
) -> dict[str, int]:
    """Copy the scoped cache tables into the bundle; rows copied per table."""
    filters = _where(scope)
    bundle.execute("ATTACH DATABASE ? AS src", (f"file:{cache}?mode=ro",))
    counts: dict[str, int] = {}
    try:
        bundle.execute("BEGIN")
        for part in (BundlePart.SNAPSHOT, BundlePart.LINEAGE, BundlePart.ENDPOINTS):
            for table in PART_TABLES[part]:
                cols = ",".join(_columns(bundle, table))
                cur = bundle.execute(
                    f"INSERT INTO main.{table} ({cols}) SELECT {cols} FROM src.{table} "
                    f"WHERE {filters[table]}"
                )
                counts[table] = cur.rowcount
                if cancel is not None:
                    cancel.raise_if_cancelled()
        if scope.registries:
            known = {r[0] for r in bundle.execute("SELECT name FROM main.registries")}
            missing = sorted(set(scope.registries) - known)
            if missing:
                raise BundleError(
                    f"The cache holds no registry named {', '.join(missing)}; "
                    "'gavel registry list' shows the names."
                )
        bundle.execute("COMMIT")
    except BaseException:
        bundle.execute("ROLLBACK")
        raise
    finally:
        bundle.execute("DETACH DATABASE src")
    return counts


def write_keys(bundle: sqlite3.Connection, keys: Sequence[EnrolledKey]) -> None:
    bundle.executemany(
        "INSERT INTO bundle_keys VALUES (?, ?, ?, ?, ?)",
        [
            (
                k.key_id,
                k.holder,
                base64.b64encode(k.public_key).decode("ascii"),
                k.enrolled_seq,
                k.revoked_seq,
            )
            for k in keys
        ],
    )


def read_keys(conn: sqlite3.Connection) -> dict[str, tuple[str, bytes, int | None]]:
    """key id -> (holder, public key, revoked at) as the bundle lists them."""
    out = {}
    for key_id, holder, public, _seq, revoked in conn.execute("SELECT * FROM bundle_keys"):
        try:
            out[key_id] = (holder, base64.b64decode(public, validate=True), revoked)
        except ValueError:
            continue  # the keys part's digest names the edit
    return out


def write_endpoints(bundle: sqlite3.Connection, definitions: Sequence[dict[str, object]]) -> None:
    """Endpoint definitions, one JSON object each (see services.bundles.endpoint_definition)."""
    bundle.executemany(
        "INSERT INTO bundle_endpoints VALUES (?, ?)",
        [
            (str(d["name"]), json.dumps(d, sort_keys=True, separators=(",", ":")))
            for d in definitions
        ],
    )


def read_endpoints(conn: sqlite3.Connection) -> list[dict[str, object]]:
    """The endpoint definitions a bundle holds, by name (none in a bundle without them)."""
    out: list[dict[str, object]] = []
    if not _columns(conn, "bundle_endpoints"):
        return out  # a gavel-bundle/1, made before endpoint definitions were bundled
    for (text,) in conn.execute("SELECT definition FROM bundle_endpoints ORDER BY name"):
        value = json.loads(text)
        if isinstance(value, dict):
            out.append(value)
    return out


def write_manifest(
    bundle: sqlite3.Connection, manifest: bytes, signature: bytes, key_id: str
) -> None:
    bundle.execute(
        "INSERT INTO bundle_manifest VALUES (1, ?, ?, ?, ?)",
        (manifest, hashlib.sha256(manifest).hexdigest(), signature, key_id),
    )


def read_manifest(conn: sqlite3.Connection) -> tuple[bytes, str, bytes, str] | None:
    """(manifest bytes, their recorded SHA-256, signature, key id); None if absent."""
    try:
        row = conn.execute(
            "SELECT manifest, manifest_sha256, signature, key_id FROM bundle_manifest"
        ).fetchone()
    except sqlite3.DatabaseError:
        return None
    if row is None:
        return None
    return bytes(row[0]), str(row[1]), bytes(row[2]), str(row[3])


def finish(path: Path) -> None:
    """One self-contained file: no WAL beside it, free pages dropped."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("VACUUM")


def keep_only_cache(path: Path) -> None:
    """Make a session's copy of a bundle a plain cache: without the ledger's tables,
    which the cache must not hold (Gavel 0.1 kept its ledger there; see ledger_archive)."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        for table in (
            "ledger_events",
            "ledger_head",
            "ledger_meta",
            "gavel_ledger_version",
            "bundle_endpoints",
        ):
            conn.execute(f"DROP TABLE IF EXISTS {table}")


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA main.table_info({table})")]


def _primary_key(conn: sqlite3.Connection, table: str) -> list[str]:
    rows = [(row[5], row[1]) for row in conn.execute(f"PRAGMA main.table_info({table})")]
    return [name for pk, name in sorted(rows) if pk]


def table_digest(
    conn: sqlite3.Connection, table: str, cancel: CancelToken | None = None
) -> TableDigest:
    """Row count and SHA-256 of a table's canonical content (see the module docstring)."""
    try:
        cols = _columns(conn, table)
        if not cols:
            raise BundleError(f"The bundle has no table {table}: it is not a complete bundle.")
        order = ",".join(_primary_key(conn, table)) or "rowid"
        cur = conn.execute(f"SELECT {','.join(cols)} FROM {table} ORDER BY {order}")
        digest = hashlib.sha256()
        count = 0
        while rows := cur.fetchmany(_CHUNK):
            digest.update(b"".join(_canonical_row(row) for row in rows))
            count += len(rows)
            if cancel is not None:
                cancel.raise_if_cancelled()
    except sqlite3.DatabaseError as exc:
        raise BundleError(f"The bundle's table {table} cannot be read ({exc}).") from None
    return TableDigest(count, digest.hexdigest())


def _canonical_row(row: Sequence[object]) -> bytes:
    values = [
        base64.b64encode(v).decode("ascii") if isinstance(v, bytes | memoryview) else v for v in row
    ]
    return json.dumps(values, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"
