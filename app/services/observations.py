"""Changes made behind governance's back: every sync compares the registry's aliases
with the state the ledger knows (observed moves and applied promotions).

Comparing with the ledger rather than with the previous cache snapshot makes this
idempotent: if recording fails once (team ledger unreachable), the next sync still
sees the difference and records it, so no move escapes the audit trail.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from app.domain.ledger import LedgerAction, LedgerEvent
from app.domain.ledger_query import ALIAS_ACTIONS, LedgerQuery, alias_move_of, model_subject
from app.services.audit import AuditService
from app.services.identity import IdentityService

log = logging.getLogger("gavel.observations")

SYNC_ACTOR = "gavel-sync"


@dataclass(frozen=True)
class Violation:
    """An alias move no applied promotion explains."""

    seq: int
    at: datetime
    registry: str
    model: str
    alias: str
    before: int | None
    after: int | None
    observed_by: str

    def describe(self) -> str:
        def v(x: int | None) -> str:
            return "nothing" if x is None else f"v{x}"

        return (
            f"Alias '{self.alias}' of {self.model} ({self.registry}) moved from {v(self.before)} "
            f"to {v(self.after)} without an approved promotion request."
        )


class ChangeObserver:
    def __init__(self, audit: AuditService, identity: IdentityService) -> None:
        self._audit = audit
        self._identity = identity

    def observe(self, registry: str, aliases: Mapping[str, Mapping[str, int]]) -> list[LedgerEvent]:
        """Record every alias whose registry value differs from the ledger's; returns them.

        aliases: model name -> alias -> version, as the registry shows them now.
        """
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
        me = self._identity.current()
        actor = me.user_id if me else SYNC_ACTOR
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

    def violations(self, registry: str | None = None) -> list[Violation]:
        prefix = model_subject(registry, "") if registry else "model:"
        query = LedgerQuery(subject_prefix=prefix, actions=(LedgerAction.ALIAS_OBSERVED.value,))
        out = []
        for e in self._audit.page(query, limit=None):
            after = e.after if isinstance(e.after, Mapping) else {}
            if not after.get("unapproved"):
                continue
            reg, _, model = e.subject[len("model:") :].partition("/")
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
