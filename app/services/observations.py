"""Changes made behind governance's back: every sync compares the registry's aliases,
and its versions' stages, with the state the ledger knows (observed moves and applied
promotions).

Comparing with the ledger rather than with the previous cache snapshot makes this
idempotent: if recording fails once (team ledger unreachable), the next sync still
sees the difference and records it, so no move escapes the audit trail.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from app.domain.governance import STAGE_NONE, stage_name
from app.domain.ledger import LedgerAction, LedgerEvent
from app.domain.ledger_query import (
    ALIAS_ACTIONS,
    STAGE_ACTIONS,
    LedgerQuery,
    alias_move_of,
    model_subject,
    registry_subject,
    stage_move_of,
    stage_payload,
)
from app.services.audit import AuditService
from app.services.identity import IdentityService

log = logging.getLogger("gavel.observations")

SYNC_ACTOR = "gavel-sync"


@dataclass(frozen=True)
class Violation:
    """An alias move, or a version's stage move, that no applied promotion explains.

    For a stage move, alias is "", before and after are both the version, and
    stage_before/stage_after say where it moved.
    """

    seq: int
    at: datetime
    registry: str
    model: str
    alias: str
    before: int | None
    after: int | None
    observed_by: str
    stage_before: str | None = None
    stage_after: str | None = None

    @property
    def is_stage(self) -> bool:
        return self.stage_after is not None

    def describe(self) -> str:
        def v(x: int | None) -> str:
            return "nothing" if x is None else f"v{x}"

        if self.stage_after is not None:
            return (
                f"Version {self.after} of {self.model} moved to {_in(self.stage_after)} "
                "without an approved promotion request (registry "
                f"{self.registry}; it was in {_in(self.stage_before)})."
            )
        return (
            f"Alias '{self.alias}' of {self.model} ({self.registry}) moved from {v(self.before)} "
            f"to {v(self.after)} without an approved promotion request."
        )


def _in(stage: str | None) -> str:
    if stage is None:
        return "an unrecorded stage"
    return "no stage" if stage == STAGE_NONE else f"stage {stage}"


class ChangeObserver:
    def __init__(self, audit: AuditService, identity: IdentityService) -> None:
        self._audit = audit
        self._identity = identity

    def observe(
        self,
        registry: str,
        aliases: Mapping[str, Mapping[str, int]],
        stages: Mapping[str, Mapping[int, str]] | None = None,
    ) -> list[LedgerEvent]:
        """Record every alias (and stage) whose registry value differs from the ledger's;
        returns the events recorded.

        aliases: model name -> alias -> version, as the registry shows them now.
        stages: model name -> version -> stage, for the versions in a stage now (a
        version left out is in stage "None"); None: stages are not compared.
        """
        me = self._identity.current()
        actor = me.user_id if me else SYNC_ACTOR
        recorded = self._observe_aliases(registry, aliases, actor)
        if stages is not None:
            recorded += self._observe_stages(registry, stages, actor)
        return recorded

    def _observe_aliases(
        self, registry: str, aliases: Mapping[str, Mapping[str, int]], actor: str
    ) -> list[LedgerEvent]:
        prefix = model_subject(registry, "")
        known: dict[tuple[str, str], int | None] = {}
        events = self._audit.page(
            LedgerQuery(subject_prefix=prefix, actions=ALIAS_ACTIONS), limit=None
        )
        for e in events:
            move = alias_move_of(e)
            if move is not None:
                known[(e.subject[len(prefix) :], move.alias)] = move.after
        # The first time a registry is seen, its aliases are the baseline, not violations.
        baseline = not events
        now = {(m, a): v for m, per in aliases.items() for a, v in per.items()}
        recorded = []
        for model, alias in sorted(set(known) | set(now)):
            before, after = known.get((model, alias)), now.get((model, alias))
            if before == after:
                continue
            unapproved = not baseline
            recorded.append(
                self._audit.record(
                    actor,
                    LedgerAction.ALIAS_OBSERVED,
                    model_subject(registry, model),
                    before={"alias": alias, "version": before},
                    after={"alias": alias, "version": after, "unapproved": unapproved},
                    reason=(
                        f"Sync of {registry} saw alias '{alias}' change with no approved "
                        "promotion explaining it."
                        if unapproved
                        else f"First sync of {registry}: alias state recorded as the baseline."
                    ),
                )
            )
            if unapproved:
                log.warning("unapproved alias change: %s %s %s→%s", model, alias, before, after)
        return recorded

    def _observe_stages(
        self, registry: str, stages: Mapping[str, Mapping[int, str]], actor: str
    ) -> list[LedgerEvent]:
        now = {
            (m, v): s
            for m, per in stages.items()
            for v, raw in per.items()
            if (s := stage_name(raw)) != STAGE_NONE
        }
        baseline = self._stage_baseline(registry)
        if baseline is None:
            # The first comparison records the stages as they are (one event, even when
            # no version is in a stage), so stages set before Gavel watched them are not
            # violations, and any later move is.
            table: dict[str, dict[str, str]] = {}
            for (m, v), s in sorted(now.items()):
                table.setdefault(m, {})[str(v)] = s
            event = self._audit.record(
                actor,
                LedgerAction.REGISTRY_CHANGE_OBSERVED,
                registry_subject(registry),
                after={"stages": table},
                reason=(
                    f"First comparison of stages in {registry}: {len(now)} version(s) in a "
                    "stage recorded as the baseline."
                ),
            )
            return [event]
        seq, known = baseline
        prefix = model_subject(registry, "")
        query = LedgerQuery(subject_prefix=prefix, actions=STAGE_ACTIONS, from_seq=seq + 1)
        for e in self._audit.page(query, limit=None):
            move = stage_move_of(e)
            if move is not None:
                known[(e.subject[len(prefix) :], move.version)] = stage_name(move.after)
        recorded = []
        for model, version in sorted(set(known) | set(now)):
            before = known.get((model, version), STAGE_NONE)
            after = now.get((model, version), STAGE_NONE)
            if before == after:
                continue
            recorded.append(
                self._audit.record(
                    actor,
                    LedgerAction.REGISTRY_CHANGE_OBSERVED,
                    model_subject(registry, model),
                    before=stage_payload(version, before),
                    after={**stage_payload(version, after), "unapproved": True},
                    reason=(
                        f"Sync of {registry} saw version {version} move from stage {before} "
                        f"to stage {after} with no approved promotion explaining it."
                    ),
                )
            )
            log.warning("unapproved stage change: %s v%d %s→%s", model, version, before, after)
        return recorded

    def _stage_baseline(self, registry: str) -> tuple[int, dict[tuple[str, int], str]] | None:
        """The latest stage baseline of a registry: its seq and (model, version) -> stage."""
        query = LedgerQuery(
            subject=registry_subject(registry),
            actions=(LedgerAction.REGISTRY_CHANGE_OBSERVED.value,),
        )
        for e in self._audit.page(query, limit=None, descending=True):
            table = e.after.get("stages") if isinstance(e.after, Mapping) else None
            if not isinstance(table, Mapping):
                continue
            known: dict[tuple[str, int], str] = {}
            for model, per in table.items():
                if isinstance(per, Mapping):
                    for v, s in per.items():
                        if isinstance(s, str) and str(v).isdigit():
                            known[(str(model), int(v))] = stage_name(s)
            return e.seq, known
        return None

    def violations(self, registry: str | None = None) -> list[Violation]:
        prefix = model_subject(registry, "") if registry else "model:"
        actions = (
            LedgerAction.ALIAS_OBSERVED.value,
            LedgerAction.REGISTRY_CHANGE_OBSERVED.value,
        )
        out = []
        for e in self._audit.page(LedgerQuery(subject_prefix=prefix, actions=actions), limit=None):
            after = e.after if isinstance(e.after, Mapping) else {}
            if not after.get("unapproved"):
                continue
            reg, _, model = e.subject[len("model:") :].partition("/")
            if e.action == LedgerAction.REGISTRY_CHANGE_OBSERVED:
                move = stage_move_of(e)
                if move is None:
                    continue
                out.append(
                    Violation(
                        e.seq,
                        e.at,
                        reg,
                        model,
                        "",
                        move.version,
                        move.version,
                        e.actor,
                        stage_before=move.before,
                        stage_after=move.after,
                    )
                )
                continue
            before = e.before.get("version") if isinstance(e.before, Mapping) else None
            version = after.get("version")
            out.append(
                Violation(
                    e.seq,
                    e.at,
                    reg,
                    model,
                    str(after.get("alias")),
                    before if isinstance(before, int) else None,
                    version if isinstance(version, int) else None,
                    e.actor,
                )
            )
        return out
