"""Reading the audit ledger: filters for the UI and the history of a model's aliases
and versions' stages.

Conventions the readers rely on, which every writer of these events follows:

- a model's subject is ``model_subject(registry, model)``: ``model:<registry>/<model>``
  (registry names never contain '/', model names may);
- ``alias.observed`` and ``promotion.applied`` events about a model carry
  ``alias_payload(alias, version)`` as before/after: ``{"alias": ..., "version": ...}``
  with version null when the alias did not exist (before) or was removed (after);
- ``registry.change_observed`` and ``promotion.applied`` events that move a version
  into an MLflow stage carry ``stage_payload(version, stage)`` instead:
  ``{"stage": ..., "version": ...}`` (stage "None": in no stage, or deleted);
- the stages a registry's versions were in when Gavel first compared them are one
  ``registry.change_observed`` event on ``registry_subject(registry)`` whose after is
  ``{"stages": {model: {"<version>": stage}}}`` (versions in no stage left out).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from app.domain.ledger import LedgerAction, LedgerEvent

ALIAS_ACTIONS: tuple[str, ...] = (
    LedgerAction.ALIAS_OBSERVED.value,
    LedgerAction.PROMOTION_APPLIED.value,
)
STAGE_ACTIONS: tuple[str, ...] = (
    LedgerAction.REGISTRY_CHANGE_OBSERVED.value,
    LedgerAction.PROMOTION_APPLIED.value,
)


@dataclass(frozen=True)
class LedgerQuery:
    """Which events to read; every condition is applied in SQL.

    from_seq/to_seq: inclusive sequence range.
    subject_prefix: e.g. 'model:prod/' for everything about one registry's models.
    since/until: inclusive time range (timezone-aware).
    """

    from_seq: int | None = None
    to_seq: int | None = None
    subject: str | None = None
    subject_prefix: str | None = None
    actor: str | None = None
    actions: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None


def model_subject(registry: str, model: str) -> str:
    return f"model:{registry}/{model}"


def registry_subject(registry: str) -> str:
    return f"registry:{registry}"


def alias_payload(alias: str, version: int | None) -> dict[str, str | int | None]:
    return {"alias": alias, "version": version}


def stage_payload(version: int, stage: str) -> dict[str, str | int | None]:
    return {"stage": stage, "version": version}


@dataclass(frozen=True)
class AliasMove:
    """An alias seen or set to point at a version (None: removed) by one ledger event."""

    seq: int
    at: datetime
    actor: str
    action: str
    alias: str
    before: int | None
    after: int | None


def alias_move_of(event: LedgerEvent) -> AliasMove | None:
    """The alias move an event records, or None when it records none."""
    if event.action not in ALIAS_ACTIONS or not isinstance(event.after, Mapping):
        return None
    alias = event.after.get("alias")
    if not isinstance(alias, str):
        return None
    before = event.before.get("version") if isinstance(event.before, Mapping) else None
    after = event.after.get("version")
    return AliasMove(
        seq=event.seq,
        at=event.at,
        actor=event.actor,
        action=event.action,
        alias=alias,
        before=before if isinstance(before, int) else None,
        after=after if isinstance(after, int) else None,
    )


def holder_at(moves: Iterable[AliasMove], when: datetime) -> int | None:
    """The version the alias pointed at, at time ``when``; None if it did not exist.

    moves: one alias's moves in ledger order. Ledger order wins over timestamps, so a
    clock that stepped back on one desktop cannot reorder history.
    """
    version: int | None = None
    for move in moves:
        if move.at > when:
            break
        version = move.after
    return version


@dataclass(frozen=True)
class StageMove:
    """A version seen in or moved into a stage by one ledger event."""

    seq: int
    actor: str
    action: str
    version: int
    before: str | None  # None when the event does not say
    after: str


def stage_move_of(event: LedgerEvent) -> StageMove | None:
    """The stage move an event records, or None when it records none."""
    if event.action not in STAGE_ACTIONS or not isinstance(event.after, Mapping):
        return None
    stage, version = event.after.get("stage"), event.after.get("version")
    if not isinstance(stage, str) or not isinstance(version, int):
        return None
    before = event.before.get("stage") if isinstance(event.before, Mapping) else None
    return StageMove(
        seq=event.seq,
        actor=event.actor,
        action=event.action,
        version=version,
        before=before if isinstance(before, str) else None,
        after=stage,
    )
