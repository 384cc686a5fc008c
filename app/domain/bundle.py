"""Audit bundles: what one holds, how its manifest is spelled, and what verifying finds.

A bundle is one SQLite file holding, for a chosen scope, the cache's tables (the
registry snapshot, lineage, endpoint observations), the endpoint definitions of
the exporter's config.toml (without secrets), the ledger's events, the public
keys enrolled on that ledger, and a signed manifest. Each *part* is a group of tables;
the manifest records, per table, its row count and the SHA-256 of its canonical
content (see ``stores.bundle_file.table_digest``), so verification names the part and
table that changed. The manifest itself is RFC 8785 JSON; the exporter's Ed25519 key
signs the 32 raw bytes of its SHA-256.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import rfc8785

from app.domain.errors import GavelError

# /2 added the endpoint definitions part; /1 bundles (made before) still verify and open.
BUNDLE_FORMAT = "gavel-bundle/2"
BUNDLE_SUFFIX = ".gavelbundle"


class BundlePart(StrEnum):
    SNAPSHOT = "registry snapshot"
    LINEAGE = "lineage"
    ENDPOINTS = "endpoint observations"
    ENDPOINT_DEFS = "endpoint definitions"
    LEDGER = "audit ledger"
    KEYS = "enrolled keys"


# Which tables make up each part, in the order they are copied (parents first).
PART_TABLES: Mapping[BundlePart, tuple[str, ...]] = {
    BundlePart.SNAPSHOT: (
        "registries",
        "models",
        "model_tags",
        "aliases",
        "versions",
        "version_tags",
        "runs",
        "run_params",
        "run_tags",
        "run_metrics",
        "metric_history",
    ),
    BundlePart.LINEAGE: ("dataset_inputs",),
    BundlePart.ENDPOINTS: ("endpoints", "endpoint_samples"),
    # What each endpoint is (name, URLs without credentials, model and alias it serves),
    # from the exporter's config.toml: no token variable, no probe body.
    BundlePart.ENDPOINT_DEFS: ("bundle_endpoints",),
    BundlePart.LEDGER: ("ledger_events",),
    BundlePart.KEYS: ("bundle_keys",),
}


# Every format this Gavel reads, and the parts a bundle of that format holds.
READABLE_FORMATS: Mapping[str, frozenset[BundlePart]] = {
    "gavel-bundle/1": frozenset(BundlePart) - {BundlePart.ENDPOINT_DEFS},
    BUNDLE_FORMAT: frozenset(BundlePart),
}


class BundleError(GavelError):
    """A bundle cannot be made, read or trusted; the message names what and why."""


@dataclass(frozen=True)
class BundleScope:
    """What a bundle covers: registries and models (empty = all) and a start date."""

    registries: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    # ISO date: versions created and endpoint samples taken before it are left out.
    since: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"registries": list(self.registries), "models": list(self.models),
                "since": self.since}  # fmt: skip


@dataclass(frozen=True)
class TableDigest:
    rows: int
    sha256: str


@dataclass(frozen=True)
class BundleProblem:
    """One thing that failed to verify; ``part`` is None for the manifest and signature."""

    what: str
    message: str
    part: BundlePart | None = None


@dataclass(frozen=True)
class BundleReport:
    """What `bundle verify` found: the manifest (when readable) and every problem."""

    path: str
    manifest: Mapping[str, Any]
    problems: tuple[BundleProblem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def failed_parts(self) -> set[BundlePart]:
        return {p.part for p in self.problems if p.part is not None}

    @property
    def trusted(self) -> bool:
        """Whether the manifest itself is signed and intact (nothing can be trusted if not)."""
        return not any(p.part is None for p in self.problems)

    def describe(self) -> str:
        """One sentence for a person: who made it, from where, and whether it verified."""
        m = self.manifest
        origin = ", ".join(r["name"] for r in m.get("registries", [])) or "no registry"
        head = f"bundle from {origin}, made {m.get('made_at', '?')} by {m.get('made_by', '?')}"
        if self.ok:
            return f"{head}, manifest verified"
        return f"{head}; NOT verified: " + "; ".join(p.message for p in self.problems)


def manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    """The canonical bytes the signature covers (RFC 8785)."""
    return rfc8785.dumps(dict(manifest))


def table_entry(manifest: Mapping[str, Any], part: BundlePart, table: str) -> TableDigest | None:
    try:
        entry = manifest["parts"][part.value][table]
        return TableDigest(int(entry["rows"]), str(entry["sha256"]))
    except (KeyError, TypeError, ValueError):
        return None
