"""Is the approved version the one being served? Pure rules, no I/O.

An endpoint says what it serves in its own words: an OIP server reports version
labels ('v1', '3'), an MLflow scoring server reports nothing and the user tells
Gavel what it was started from (a model URI, a run id, an MLflow model id). These
rules turn either into a registry version, and compare it with the version the
endpoint's alias points to in the cache.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

_LABEL_RE = re.compile(r"^(?:v|version[-_ ]?)?(\d+)$", re.IGNORECASE)
_MODELS_URI_RE = re.compile(r"^models:/(?P<name>[^@]+?)/(?P<version>\d+)/?$")
_MODELS_ALIAS_RE = re.compile(r"^models:/(?P<name>.+)@(?P<alias>[^/]+)$")
_RUNS_URI_RE = re.compile(r"^runs:/(?P<run>[0-9a-f]{32})(?:/.*)?$")
_RUN_ID_RE = re.compile(r"^[0-9a-f]{32}$")
_MODEL_ID_RE = re.compile(r"^(?:models:/)?(?P<id>m-[0-9a-f]{32})/?$")


class ServingState(StrEnum):
    MATCH = "match"
    DRIFT = "drift"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class VersionIdentity:
    """What the cache knows of one registry version, to recognise it when served."""

    version: int
    run_id: str = ""
    source: str = ""
    logged_model_id: str = ""


@dataclass(frozen=True)
class ServingCatalog:
    """The cached registry facts about one model that serving checks need."""

    found: bool
    aliases: Mapping[str, int]
    versions: tuple[VersionIdentity, ...] = ()


@dataclass(frozen=True)
class Resolution:
    """Registry version(s) an identifier stands for, or why it stands for none."""

    versions: tuple[int, ...]
    how: str


@dataclass(frozen=True)
class ServingStatus:
    endpoint: str
    registry: str
    model: str
    alias: str
    state: ServingState
    reason: str
    # Registry versions served (several when the server serves several at once).
    served_versions: tuple[int, ...] = ()
    # What the server reported or the user configured, e.g. 'v1' or 'runs:/…/model'.
    served_label: str = ""
    expected_version: int | None = None

    @property
    def served_version(self) -> int | None:
        return self.served_versions[0] if len(self.served_versions) == 1 else None

    @property
    def drift_key(self) -> str:
        """Identifies one drift situation: a new key is a new change worth recording."""
        if self.state is not ServingState.DRIFT:
            return ""
        served = ",".join(str(v) for v in self.served_versions)
        return f"served={served};expected={self.expected_version}"


def resolve_identifier(
    identifier: str,
    model: str,
    version_map: Mapping[str, int],
    versions: Sequence[VersionIdentity],
) -> Resolution:
    """The registry version an identifier reported by (or configured for) a server names."""
    ident = identifier.strip()
    if ident in version_map:
        mapped = version_map[ident]
        return Resolution((mapped,), f"'{ident}' is mapped to version {mapped}")
    if m := _LABEL_RE.match(ident):
        return Resolution((int(m.group(1)),), f"the server reports version '{ident}'")
    if m := _MODELS_URI_RE.match(ident):
        if m.group("name") != model:
            return Resolution((), f"'{ident}' names model '{m.group('name')}', not '{model}'")
        return Resolution((int(m.group("version")),), f"it was deployed from '{ident}'")
    if m := _MODELS_ALIAS_RE.match(ident):
        return Resolution(
            (),
            f"'{ident}' names an alias, which is resolved when the server starts; add "
            f"--served-version-map '{ident}=N' with the version it was started with",
        )
    if m := _MODEL_ID_RE.match(ident):
        model_id = m.group("id")
        # Version searches do not return model_id; MLflow 3 puts it in the source URI.
        found = tuple(
            v.version
            for v in versions
            if model_id in (v.logged_model_id, v.source.removeprefix("models:/").rstrip("/"))
        )
        return _from_cache(found, f"MLflow model id {model_id}")
    run = (m.group("run") if (m := _RUNS_URI_RE.match(ident)) else None) or (
        ident if _RUN_ID_RE.match(ident) else None
    )
    if run is not None:
        by_source = tuple(v.version for v in versions if v.source == ident)
        if ident != run and len(by_source) == 1:
            return _from_cache(by_source, f"'{ident}'")
        return _from_cache(tuple(v.version for v in versions if v.run_id == run), f"run {run}")
    return Resolution(
        (),
        f"'{ident}' is not a version label, a model URI, a run id or an MLflow model id; "
        f"map it with --served-version-map '{ident}=N'",
    )


def _from_cache(found: tuple[int, ...], what: str) -> Resolution:
    if len(found) == 1:
        return Resolution(found, f"{what} is version {found[0]} in the cache")
    if not found:
        return Resolution(
            (),
            f"no cached version of the model comes from {what}; sync the registry, or map it "
            "with --served-version-map",
        )
    listed = ", ".join(str(v) for v in sorted(found))
    return Resolution((), f"{what} is shared by versions {listed}; map it explicitly")


def assess_serving(
    *,
    endpoint: str,
    registry: str,
    model: str,
    alias: str,
    catalog: ServingCatalog,
    identifiers: Sequence[str],
    version_map: Mapping[str, int],
    unreachable_reason: str = "",
) -> ServingStatus:
    """Compare what an endpoint serves with what its alias points to.

    identifiers: what the server reported (OIP version labels) or, for servers that
        say nothing, what the user configured it was deployed from.
    unreachable_reason: non-empty when the probe could not learn anything.
    """

    def status(
        state: ServingState,
        reason: str,
        served_versions: tuple[int, ...] = (),
        served_label: str = "",
        expected_version: int | None = None,
    ) -> ServingStatus:
        return ServingStatus(
            endpoint,
            registry,
            model,
            alias,
            state,
            reason,
            served_versions,
            served_label,
            expected_version,
        )

    subject = f"'{model}' in registry '{registry}'"
    if not catalog.found:
        return status(
            ServingState.UNKNOWN,
            f"The cache holds no model {subject}; run 'gavel sync {registry}' or fix the "
            f"endpoint '{endpoint}'.",
        )
    expected = catalog.aliases.get(alias)
    if expected is None:
        return status(
            ServingState.UNKNOWN,
            f"Alias '{alias}' of {subject} does not exist in the cache, so no version is "
            f"approved for endpoint '{endpoint}'; sync the registry or set the alias.",
        )
    if unreachable_reason:
        return status(
            ServingState.UNKNOWN,
            f"Cannot tell which version endpoint '{endpoint}' serves: {unreachable_reason}",
            expected_version=expected,
        )
    labels = [i for i in dict.fromkeys(identifiers) if i.strip()]
    if not labels:
        return status(
            ServingState.UNKNOWN,
            f"Endpoint '{endpoint}' does not say which version of '{model}' it serves; "
            "set --served-model to what it was deployed from, or --served-version-map.",
            expected_version=expected,
        )
    served: list[int] = []
    for label in labels:
        res = resolve_identifier(label, model, version_map, catalog.versions)
        if not res.versions:
            return status(
                ServingState.UNKNOWN,
                f"Cannot tell which version endpoint '{endpoint}' serves: {res.how}.",
                served_label=label,
                expected_version=expected,
            )
        served.extend(v for v in res.versions if v not in served)
    shown = ", ".join(labels)
    served_t = tuple(sorted(served))
    if served_t == (expected,):
        return status(
            ServingState.MATCH,
            f"Endpoint '{endpoint}' serves version {expected} of '{model}', the version "
            f"alias '{alias}' points to.",
            served_versions=served_t,
            served_label=shown,
            expected_version=expected,
        )
    what = _versions_text(served_t)
    extra = " besides the approved one" if expected in served_t else ""
    return status(
        ServingState.DRIFT,
        f"Endpoint '{endpoint}' serves {what} of '{model}'{extra} (it reports '{shown}'), "
        f"but alias '{alias}' points to version {expected}: the deployment is not the "
        "approved version.",
        served_versions=served_t,
        served_label=shown,
        expected_version=expected,
    )


def _versions_text(versions: tuple[int, ...]) -> str:
    if len(versions) == 1:
        return f"version {versions[0]}"
    return "versions " + ", ".join(str(v) for v in versions[:-1]) + f" and {versions[-1]}"
