"""Changes made behind governance's back: every sync compares the registry's aliases,
and its versions' stages, with the state the ledger knows (observed moves and applied
promotions).

Comparing with the ledger rather than with the previous cache snapshot makes this
idempotent: if recording fails once (team ledger unreachable), the next sync still
sees the difference and records it, so no move escapes the audit trail.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
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


TierReader = Callable[[str], Mapping[str, str]]


class ChangeObserver:
    """Records what syncs see change in the registries (observations, unsigned).

    tiers: registry name -> model -> its risk_tier tag as cached, so a tier lowered in
        the registry is on the ledger before anyone requests against it.
    """

    def __init__(
        self,
        audit: AuditService,
        identity: IdentityService,
        tiers: TierReader | None = None,
    ) -> None:
        self._audit = audit
        self._identity = identity
        self._tiers = tiers

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
        actor = self._identity.user_id() or SYNC_ACTOR
        recorded = self._observe_aliases(registry, aliases, actor)
        if stages is not None:
            recorded += self._observe_stages(registry, stages, actor)
        if self._tiers is not None:
            recorded += self._observe_tiers(registry, self._tiers(registry), actor)
        return recorded

    def _observe_tiers(
        self, registry: str, tiers: Mapping[str, str], actor: str
    ) -> list[LedgerEvent]:
        """Record each model's tier the first time it is seen and whenever it changes.

        The policy of a request is the stricter of its tier then and the tier seen since,
        so lowering a tier in the registry never lowers what a pending request needs,
        and the ledger says when it happened.
        """
        prefix = model_subject(registry, "")
        known: dict[str, str] = {}
        query = LedgerQuery(subject_prefix=prefix, actions=(LedgerAction.RISK_TIER_OBSERVED.value,))
        for e in self._audit.page(query, limit=None):
            tier = e.after.get("risk_tier") if isinstance(e.after, Mapping) else None
            if isinstance(tier, str):
                known[e.subject[len(prefix) :]] = tier
        recorded = []
        for model in sorted(tiers):
            tier = tiers[model]
            was = known.get(model)
            if was == tier:
                continue
            recorded.append(
                self._audit.record(
                    actor,
                    LedgerAction.RISK_TIER_OBSERVED,
                    model_subject(registry, model),
                    before=None if was is None else {"risk_tier": was},
                    after={"risk_tier": tier},
                    reason=(
                        f"Sync of {registry} saw the risk tier of {model} change from "
                        f"{was or 'not set'} to {tier or 'not set'}."
                        if was is not None
                        else f"Sync of {registry} recorded the risk tier of {model}: "
                        f"{tier or 'not set'}."
                    ),
                )
            )
            if was is not None:
                log.warning("risk tier of %s/%s changed: %s→%s", registry, model, was, tier)
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
