"""Audit bundles: made from a profile's cache and ledger, verified headless, and opened
as an audit session (a throwaway profile whose cache and ledger are the bundle's parts).

See domain.bundle for what a bundle holds and stores.bundle_file for its layout.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app import __version__
from app.domain.authority import AuthorityState
from app.domain.authority_model import FOLDED_ACTIONS
from app.domain.authority_report import combined_report
from app.domain.bundle import (
    BUNDLE_FORMAT,
    PART_TABLES,
    READABLE_FORMATS,
    BundleError,
    BundlePart,
    BundleProblem,
    BundleReport,
    BundleScope,
    manifest_bytes,
    table_entry,
)
from app.domain.cancel import CancelToken
from app.domain.endpoints import EndpointConfig, url_without_credentials
from app.domain.governance import MemberStatus
from app.domain.ledger import (
    Checkpoint,
    LedgerError,
    LedgerTampered,
    StoredRow,
    stored_to_event,
)
from app.domain.ledger_keys import key_id_for
from app.domain.ledger_verify import ChainVerifier
from app.domain.progress import Progress, ProgressCallback, no_progress
from app.services.actor import Actor
from app.services.audit import AuditService
from app.services.signing import Ed25519Signer, Ed25519Verifier, MemoVerifier
from app.services.team_ledger import ReadOnlyAudit
from app.stores import bundle_file
from app.stores.endpoint_config import EndpointConfigFile, endpoint_from_toml, endpoint_to_toml
from app.stores.engine import sqlite_url
from app.stores.ledger_store import LedgerStore
from app.stores.migrate import open_ledger_database
from app.stores.paths import AppPaths
from app.stores.profile_file import Profile, ProfileFile

CREATE_PHASES = (
    "Copying the registry snapshot",
    "Copying the audit ledger",
    "Sealing (hashing every table)",
)
_FOLDED = frozenset(FOLDED_ACTIONS)
_CHUNK = 5_000


@dataclass(frozen=True)
class BundleSummary:
    path: Path
    size: int
    cache_size: int
    counts: Mapping[str, int]
    ledger_head: Checkpoint


class BundleService:
    """Makes bundles from this profile: its cache, its ledger and its person's key."""

    def __init__(
        self,
        paths: AppPaths,
        audit: AuditService,
        actor: Actor,
        endpoints: Callable[[], list[EndpointConfig]] = list,
    ) -> None:
        self._paths = paths
        self._audit = audit
        self._actor = actor
        self._endpoints = endpoints

    def create(
        self,
        out: Path,
        scope: BundleScope,
        passphrase: str,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> BundleSummary:
        """Write a bundle signed with my key to ``out``, whole or not at all."""
        made_by = self._actor.user_id()
        signer = self._actor.signer(passphrase)
        return self.write(out, scope, made_by, signer, progress, cancel)

    def write(
        self,
        out: Path,
        scope: BundleScope,
        made_by: str,
        signer: Ed25519Signer,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> BundleSummary:
        """Write a bundle signed by ``signer`` (``made_by``'s key, already unlocked)."""
        if out.exists() and out.is_dir():
            raise BundleError(f"{out} is a folder; give the bundle a file name.")
        if not out.parent.is_dir():
            raise BundleError(f"The folder {out.parent} does not exist; create it first.")
        partial = out.with_name(out.name + ".partial")
        _remove(partial)
        try:
            bundle_file.create_empty(partial)
            progress(Progress(CREATE_PHASES[0]))
            with bundle_file.writable(partial) as conn:
                counts = bundle_file.copy_cache(conn, self._paths.cache_db, scope, cancel)
                defs = [endpoint_definition(c) for c in self._endpoints() if _in_scope(c, scope)]
                bundle_file.write_endpoints(conn, defs)
                counts["bundle_endpoints"] = len(defs)
            head = self._copy_ledger(partial, progress, cancel)
            store = self._audit.store
            keys = list(store.enrolled_keys(head.seq).values())
            progress(Progress(CREATE_PHASES[2]))
            with bundle_file.writable(partial) as conn:
                bundle_file.write_keys(conn, keys)
                parts = _digests(conn, progress, cancel)
                registries = [
                    {"name": name, "url": url}
                    for name, url in conn.execute("SELECT name, url FROM registries ORDER BY name")
                ]
                manifest = {
                    "format": BUNDLE_FORMAT,
                    "made_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "made_by": made_by,
                    "key_id": signer.key_id,
                    "public_key": signer.public_key_b64,
                    "gavel": __version__,
                    "registries": registries,
                    "ledger": {
                        "where": store.where,
                        "genesis": store.genesis_hash() or "",
                        "head": {"seq": head.seq, "hash": head.hash},
                    },
                    "scope": scope.to_json(),
                    "parts": parts,
                }
                raw = manifest_bytes(manifest)
                signature = signer.sign(hashlib.sha256(raw).digest())
                bundle_file.write_manifest(conn, raw, signature, signer.key_id)
            bundle_file.drop_secondary_indexes(partial)
            bundle_file.finish(partial)
            packing = out.with_name(out.name + ".packing")
            bundle_file.pack(partial, packing)
            os.replace(packing, out)
        except BaseException:
            _remove(out.with_name(out.name + ".packing"))
            raise
        finally:
            _remove(partial)
        counts = {**counts, "ledger_events": head.seq, "bundle_keys": len(keys)}
        cache_size = sum(
            p.stat().st_size
            for p in (self._paths.cache_db, Path(f"{self._paths.cache_db}-wal"))
            if p.exists()
        )
        return BundleSummary(out, out.stat().st_size, cache_size, counts, head)

    def _copy_ledger(
        self, partial: Path, progress: ProgressCallback, cancel: CancelToken | None
    ) -> Checkpoint:
        source = self._audit.store
        head = source.head()
        if head is None:
            raise BundleError("The audit ledger is empty; there is nothing to bundle yet.")
        db = open_ledger_database(sqlite_url(partial))
        try:

            def chunks() -> Iterator[list[StoredRow]]:
                done = 0
                for rows in source.iter_rows(1, head.seq):
                    yield rows
                    done += len(rows)
                    progress(Progress(CREATE_PHASES[1], done, head.seq))
                    if cancel is not None:
                        cancel.raise_if_cancelled()

            LedgerStore(db).import_events(chunks(), None)
        finally:
            db.dispose()
        return head


# What a bundle keeps of an endpoint's configuration: where it is and what it serves.
# Not token_env (it names where a secret is kept) nor infer_request (a probe's body).
_ENDPOINT_KEYS = (
    "name", "kind", "url", "metrics_url", "registry", "model", "alias",
    "served_name", "served_model", "version_map", "interval_s", "timeout_s",
)  # fmt: skip


def endpoint_definition(cfg: EndpointConfig) -> dict[str, Any]:
    """An endpoint as a bundle holds it: no secret, and URLs without user, password,
    query or fragment (which may carry credentials)."""
    data = endpoint_to_toml(cfg)
    out = {key: data[key] for key in _ENDPOINT_KEYS if key in data}
    for key in ("url", "metrics_url"):
        if out.get(key):
            out[key] = url_without_credentials(str(out[key]))
    return out


def _in_scope(cfg: EndpointConfig, scope: BundleScope) -> bool:
    if scope.registries and cfg.registry not in scope.registries:
        return False
    return not scope.models or cfg.model in scope.models


def _digests(
    conn: Any, progress: ProgressCallback, cancel: CancelToken | None
) -> dict[str, dict[str, dict[str, Any]]]:
    out: dict[str, dict[str, dict[str, Any]]] = {}
    total = sum(len(tables) for tables in PART_TABLES.values())
    done = 0
    for part, tables in PART_TABLES.items():
        out[part.value] = {}
        for table in tables:
            d = bundle_file.table_digest(conn, table, cancel)
            out[part.value][table] = {"rows": d.rows, "sha256": d.sha256}
            done += 1
            progress(Progress(CREATE_PHASES[2], done, total))
    return out


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


# ---------------------------------------------------------------------- verifying


def verify_bundle(
    path: Path, progress: ProgressCallback = no_progress, cancel: CancelToken | None = None
) -> BundleReport:
    """Check a bundle on its own: manifest, signature, every part, the ledger's chain
    and authority. Opens the file read-only and immutable: nothing is written."""
    progress(Progress("Reading the bundle"))
    with bundle_file.unpacked(path) as plain, closing(bundle_file.open_read_only(plain)) as conn:
        return _verify(conn, str(path), progress, cancel)


def _verify(
    conn: Any, where: str, progress: ProgressCallback, cancel: CancelToken | None
) -> BundleReport:
    problems: list[BundleProblem] = []
    sealed = bundle_file.read_manifest(conn)
    if sealed is None:
        problem = BundleProblem("manifest", "the bundle has no manifest: it is not a bundle")
        return BundleReport(where, {}, (problem,))
    raw, recorded_sha, signature, _key_id = sealed
    try:
        manifest = json.loads(raw)
        if not isinstance(manifest, dict):
            raise ValueError
    except ValueError:
        problem = BundleProblem("manifest", f"the manifest is not a {BUNDLE_FORMAT} manifest")
        return BundleReport(where, {}, (problem,))
    held = READABLE_FORMATS.get(str(manifest.get("format")))
    if held is None:
        readable = ", ".join(READABLE_FORMATS)
        problem = BundleProblem(
            "manifest",
            f"the bundle's format {manifest.get('format')!r} is not one this Gavel reads "
            f"({readable}); open it with the Gavel that made it ({manifest.get('gavel', '?')}) "
            "or a newer one",
        )
        return BundleReport(where, {}, (problem,))
    digest = hashlib.sha256(raw).digest()
    if digest.hex() != recorded_sha:
        problems.append(BundleProblem("manifest", "the manifest was edited after it was signed"))
    else:
        problems.extend(_check_signature(manifest, signature, digest))
    progress(Progress("Checking the parts"))
    for part, tables in PART_TABLES.items():
        if part not in held:
            continue  # an older format, made before this part existed
        for table in tables:
            expected = table_entry(manifest, part, table)
            actual = bundle_file.table_digest(conn, table, cancel)
            if expected is None:
                problems.append(
                    BundleProblem(
                        part.value, f"the manifest lists no {table} table for the {part}", part
                    )
                )
            elif expected != actual:
                rows = (
                    ""
                    if expected.rows == actual.rows
                    else (f" ({actual.rows:,} rows where the manifest says {expected.rows:,})")
                )
                problems.append(
                    BundleProblem(
                        part.value,
                        f"the {part} differs from the manifest: table {table} was changed{rows}",
                        part,
                    )
                )
    problems.extend(_check_ledger(conn, manifest, progress, cancel))
    return BundleReport(where, manifest, tuple(problems))


def _check_signature(
    manifest: Mapping[str, Any], signature: bytes, digest: bytes
) -> list[BundleProblem]:
    import base64

    try:
        public = base64.b64decode(str(manifest.get("public_key", "")), validate=True)
    except ValueError:
        public = b""
    if not public or key_id_for(public) != manifest.get("key_id"):
        return [BundleProblem("signature", "the manifest names no valid signing key")]
    if not Ed25519Verifier().verify(public, signature, digest):
        return [
            BundleProblem(
                "signature",
                f"the signature does not verify with {manifest.get('made_by')}'s key "
                f"{manifest.get('key_id')}: it was replaced or damaged",
            )
        ]
    return []


def _bytes(value: bytes | str) -> bytes:
    # An edited row may come back as TEXT; its bytes are what the chain judges.
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _check_ledger(
    conn: Any, manifest: Mapping[str, Any], progress: ProgressCallback, cancel: CancelToken | None
) -> list[BundleProblem]:
    """The ledger part's own chain and fold; and that the exporter's key is theirs on it."""
    memo = MemoVerifier()
    verifier = ChainVerifier(memo)
    state = AuthorityState(memo)
    cur = conn.execute(
        "SELECT seq, body, hash, signer, signature, action FROM ledger_events ORDER BY seq"
    )
    while batch := cur.fetchmany(_CHUNK):
        rows: list[StoredRow] = [
            (r[0], _bytes(r[1]), r[2], r[3], None if r[4] is None else _bytes(r[4]), r[5])
            for r in batch
        ]
        broken = verifier.feed(rows)
        for row in rows:
            if row[5] in _FOLDED and row[0] <= verifier.events_checked:
                try:
                    state.fold(stored_to_event(row))
                except LedgerTampered as exc:
                    state.fold_unreadable(row[0], row[5], "", exc.message)
        progress(Progress("Verifying the audit ledger", verifier.events_checked))
        if cancel is not None:
            cancel.raise_if_cancelled()
        if broken is not None:
            break
    report = combined_report(verifier.finish(), state)
    out: list[BundleProblem] = []
    if report.problem is not None:
        out.append(
            BundleProblem(
                BundlePart.LEDGER.value,
                f"the audit ledger: {report.problem.message}",
                BundlePart.LEDGER,
            )
        )
    head = manifest.get("ledger", {}).get("head", {})
    if report.head is None or (report.head.seq, report.head.hash) != (
        head.get("seq"),
        head.get("hash"),
    ):
        out.append(
            BundleProblem(
                BundlePart.LEDGER.value,
                f"the audit ledger does not end at the head the manifest records "
                f"(event {head.get('seq')})",
                BundlePart.LEDGER,
            )
        )
    made_by = str(manifest.get("made_by", ""))
    me = state.identity(made_by)
    # A broken chain leaves the fold unfinished: the ledger is already named.
    not_theirs = me.status is not MemberStatus.ACTIVE or me.key_id != manifest.get("key_id")
    if not report.chain_broken and not_theirs:
        out.append(
            BundleProblem(
                "signature",
                f"the key that signed the manifest ({manifest.get('key_id')}) is not "
                f"{made_by}'s active key on the bundle's ledger",
            )
        )
    return out


# ---------------------------------------------------------------------- sessions

SESSION_READ_ONLY = (
    "This is an audit session over a bundle: it is read-only, so nothing can be decided "
    "or recorded in its ledger."
)


class SessionAudit(ReadOnlyAudit):
    """The bundle's ledger in an audit session: everything readable, every write refused
    (findings are signed documents kept in the auditor's profile, not ledger writes)."""

    def __init__(self, store: LedgerStore) -> None:
        super().__init__(store, SESSION_READ_ONLY)

    def _refuse(self) -> LedgerError:
        return LedgerError(
            f"{self.reason} Findings you record are kept in your own profile; export them "
            "with 'gavel findings export'."
        )


def prepare_session(
    bundle: Path,
    home: Path,
    user_id: str,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> tuple[AppPaths, BundleReport]:
    """A session profile under ``home`` whose cache and ledger are copies of the bundle.

    The copy is verified, not the file it came from, so what the session shows is what
    was checked. The bundle itself is only read. Raises BundleError naming what fails.

    user_id: the auditor, whose key signs findings (no team ledger: a session never
        talks to the network).
    """
    from app.stores.paths import resolve_paths

    paths = resolve_paths({"GAVEL_HOME": str(home)})
    paths.ensure()
    copy = paths.data_dir / "bundle.sqlite3"
    bundle_file.unpack(bundle, copy)
    report = verify_bundle(copy, progress, cancel)
    report = BundleReport(str(bundle), report.manifest, report.problems)
    if not report.ok:
        copy.unlink()
        raise BundleError(
            f"The audit bundle {bundle.name} does not verify, so nothing of it was opened: "
            + "; ".join(p.message for p in report.problems)
            + "."
        )
    with closing(bundle_file.open_read_only(copy)) as conn:
        definitions = bundle_file.read_endpoints(conn)
    progress(Progress("Indexing the session's copy"))
    bundle_file.rebuild_indexes(copy)
    shutil.copyfile(copy, paths.cache_db)
    os.replace(copy, paths.ledger_db)
    bundle_file.keep_only_cache(paths.cache_db)
    ProfileFile(paths.profile_file).save(Profile(user_id=user_id))
    paths.config_file.write_text("", encoding="utf-8")
    # The bundle's endpoints, shown read-only with their recorded observations.
    endpoints = EndpointConfigFile(paths.config_file)
    for i, definition in enumerate(definitions, start=1):
        endpoints.add_endpoint(
            endpoint_from_toml(definition, where=f"{bundle.name}, endpoint definition #{i}")
        )
    return paths, report


def scope_from(
    registries: Iterable[str] = (), models: Iterable[str] = (), since: str = ""
) -> BundleScope:
    return BundleScope(tuple(registries), tuple(models), since)
