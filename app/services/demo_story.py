"""The demo's history: seven months of a team's governance, written by real services.

The demo lives in a profile of its own (``bootstrap.demo_profile``), never in a
person's: its people, their keys and their back-dated events must never enter a real
record. Its history is written by each made-up person's own Gavel (a profile per
person on the demo's team ledger, the signing key kept for the session and then gone)
through the services every desktop uses, under a clock set back to when each step
happened. So every event is one the authority fold accepts: requests, approvals, a
rejection, promotions applied to the demo registry, a rollback, periodic reviews (one
overdue), an alias moved in MLflow behind Gavel's back (a violation) and drift seen on
an endpoint; one request still waits. The registry's registration times are set back
too (in the demo MLflow's own database), so lead times read like a real history.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from app.domain.cancel import CancelToken
from app.domain.governance import Role
from app.domain.ledger import JsonValue, LedgerAction
from app.domain.ledger_query import model_subject
from app.domain.progress import Progress, ProgressCallback, no_progress
from app.domain.registry import RegistryConfig
from app.services.audit import AuditService
from app.services.demo_portfolio import DEMO_MODELS
from app.services.governance import GovernanceService
from app.services.membership import MembershipService
from app.services.promotion_apply import PromotionApplier
from app.services.registries import RegistryService
from app.services.reviews import ReviewService
from app.services.sync import SyncService

log = logging.getLogger("gavel.demo_story")

# Every made-up person signs with this; their keys live for the story only.
PASSPHRASE = "demo story passphrase"
# How far back the story starts.
STORY_DAYS = 200
_DAY_MS = 86_400_000

ENDPOINT = "fraud-scoring"


@dataclass(frozen=True)
class Person:
    user: str
    name: str
    roles: tuple[Role, ...] = ()
    # Registry user names that are this person (the runs they trained).
    names: tuple[str, ...] = ()


# The founder (an admin) comes first. Data scientists hold no role: they are named so
# that the versions they trained map to somebody approvers can be told apart from.
PEOPLE: tuple[Person, ...] = (
    Person("dana", "Dana Whitfield", (Role.REQUESTER,)),
    Person("omar", "Omar Haddad", (Role.APPROVER,)),
    Person("grace", "Grace Liu", (Role.APPROVER,)),
    Person("amelia", "Amelia Hart", names=("amelia.hart",)),
    Person("li", "Li Wei", names=("li.wei",)),
    Person("rahul", "Rahul Mehta", names=("rahul.mehta",)),
    Person("sofia", "Sofia Rossi", names=("sofia.rossi",)),
)
# Who acts in the story (the others only enrol).
ACTORS = ("dana", "omar", "grace")

# (model, version) -> the story day it was registered; other versions are older.
REGISTERED = {
    ("card-fraud-detector", 4): -10,
    ("credit-default-scorer", 5): 5,
    ("mortgage-pd", 3): 10,
    ("aml-transaction-monitor", 3): 90,
    ("churn-propensity", 4): 130,
    ("Customer LTV (Marketing's)", 3): 160,
    ("affordability-check", 2): 170,
}


class StoryDesk(Protocol):
    """One made-up person's Gavel (an AppContext on the demo's team ledger)."""

    @property
    def membership(self) -> MembershipService: ...
    @property
    def governance(self) -> GovernanceService: ...
    @property
    def promotions(self) -> PromotionApplier: ...
    @property
    def reviews(self) -> ReviewService: ...
    @property
    def sync(self) -> SyncService: ...
    @property
    def registries(self) -> RegistryService: ...
    @property
    def audit(self) -> AuditService: ...

    def close(self) -> None: ...


# (user, the clock its ledger stamps) -> that person's desk.
DeskFactory = Callable[[str, Callable[[], datetime]], StoryDesk]
# The registry, as the story moves one alias behind Gavel's back.
AliasSetter = Callable[[RegistryConfig, str, str, int], None]


class StoryClock:
    """The time the story's ledger stamps: the step's moment, a second further for each
    event within it, never backwards."""

    def __init__(self, start: datetime) -> None:
        self._at = start

    def at(self, when: datetime) -> None:
        self._at = max(self._at, when)

    def __call__(self) -> datetime:
        self._at += timedelta(seconds=1)
        return self._at


def backdate_registry(store: Path, start: datetime) -> None:
    """Set the demo MLflow's registration times back into the story: the versions the
    story promotes a few weeks before their promotion, every other one earlier, a month
    apart. Written in MLflow's own SQLite database (there is no API for it)."""
    day0 = int(start.timestamp() * 1000)
    rows: list[tuple[int, int, str, int]] = []
    for index, model in enumerate(DEMO_MODELS):
        for version in range(1, model.versions + 1):
            day = REGISTERED.get(
                (model.name, version), -40 - 30 * (model.versions - version) - index
            )
            at = day0 + day * _DAY_MS + index * 3_600_000
            rows.append((at, at, model.name, version))
    with closing(sqlite3.connect(store, timeout=30)) as db, db:
        db.executemany(
            "UPDATE model_versions SET creation_time = ?, last_updated_time = ? "
            "WHERE name = ? AND version = ?",
            rows,
        )
        db.execute(
            "UPDATE registered_models SET creation_time = ?, last_updated_time = ?",
            (day0 - 400 * _DAY_MS, day0),
        )


class _Story:
    def __init__(
        self,
        cfg: RegistryConfig,
        desks: DeskFactory,
        set_alias: AliasSetter,
        now: datetime,
        progress: ProgressCallback,
        cancel: CancelToken,
    ) -> None:
        self.cfg = cfg
        self.start = (now - timedelta(days=STORY_DAYS)).replace(
            hour=9, minute=0, second=0, microsecond=0
        )
        self.clock = StoryClock(self.start)
        self._factory = desks
        self._set_alias = set_alias
        self._progress = progress
        self._cancel = cancel
        self.desks: dict[str, StoryDesk] = {}
        # Registry changes since each desk's cache last saw the registry.
        self._changes = 0
        self._seen: dict[str, int] = {}

    def day(self, d: int, hour: int = 9, what: str = "") -> None:
        self._cancel.raise_if_cancelled()
        self.clock.at(self.start + timedelta(days=d, hours=hour - 9))
        if what:
            self._progress(Progress(f"Writing the demo's history: {what}"))

    def desk(self, user: str) -> StoryDesk:
        """The person's desk, its cache synced if the registry changed since."""
        desk = self.desks.get(user)
        if desk is None:
            desk = self._factory(user, self.clock)
            self.desks[user] = desk
        if user in ACTORS and self._seen.get(user) != self._changes:
            if user not in self._seen:
                desk.registries.add(self.cfg)
            desk.sync.sync(self.cfg.name)
            self._seen[user] = self._changes
        return desk

    def promote(
        self,
        model: str,
        version: int,
        alias: str,
        days: tuple[int, int, int, int],
        why: str,
        approvers: tuple[str, ...] = ("omar", "grace"),
    ) -> None:
        """Requested, approved by each approver, applied: on days (request, first
        approval, second approval, apply); a medium-risk model needs one approval."""
        asked, first, second, applied = days
        self.day(asked, 10, f"{model} v{version} to {alias}")
        rid = self.request(model, version, alias, why)
        for who, d in zip(approvers, (first, second), strict=False):
            self.day(d, 11)
            self.desk(who).governance.approve(rid, _APPROVALS[who], PASSPHRASE)
        self.day(applied, 15)
        self.desk("dana").promotions.apply(rid, PASSPHRASE)
        self._changes += 1

    def review(self, who: str, model: str, version: int, comment: str) -> None:
        self.desk(who).reviews.record(self.cfg.name, model, version, comment, PASSPHRASE)

    def request(self, model: str, version: int, alias: str, why: str) -> str:
        r = self.desk("dana").governance.create_request(
            self.cfg.name, model, version, alias, why, _checklist(model), passphrase=PASSPHRASE
        )
        return r.request_id

    def move_behind_gavels_back(self, model: str, alias: str, version: int) -> None:
        self._set_alias(self.cfg, model, alias, version)
        self._changes += 1

    def close(self) -> None:
        for desk in self.desks.values():
            desk.close()
        self.desks.clear()


_APPROVALS = {
    "omar": "Validation report and checklist references checked; within risk appetite.",
    "grace": "Bias review and rollback plan read; metrics match the validation report.",
}


def _checklist(model: str) -> dict[str, str]:
    ref = "".join(w[0] for w in model.replace("(", " ").split()).upper()
    return {
        "validation_report": f"VR-2026-{ref}",
        "metrics_reviewed": "AUC and recall at 1% FPR against the holdout",
        "bias_review": f"BR-{ref}-3",
        "rollback_plan": "move the alias back to the previous version",
    }


def write_demo_story(
    cfg: RegistryConfig,
    desks: DeskFactory,
    set_alias: AliasSetter,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    now: datetime | None = None,
    store: Path | None = None,
) -> None:
    """Write the story into the demo's team ledger, acting on the registry ``cfg``.

    store: the demo MLflow's database, whose registration times are set back first
    (before any person's Gavel reads the registry).
    """
    story = _Story(
        cfg, desks, set_alias, now or datetime.now(UTC), progress, cancel or CancelToken()
    )
    if store is not None:
        backdate_registry(store, story.start)
    try:
        _tell(story)
    finally:
        story.close()


def _tell(s: _Story) -> None:
    s.day(0, 9, "the team enrols")
    founder = s.desk(PEOPLE[0].user)
    for person in PEOPLE:
        desk = founder if person is PEOPLE[0] else s.desk(person.user)
        names = person.names or (person.user,)
        desk.membership.init_identity(person.user, person.name, names, PASSPHRASE)
        if person is not PEOPLE[0]:
            founder.membership.approve_key(person.user, PASSPHRASE)
        for role in person.roles:
            founder.membership.grant(person.user, role, PASSPHRASE)
    s.day(1, 9, "first sync")
    for user in ACTORS:
        s.desk(user)

    s.promote(
        "card-fraud-detector",
        4,
        "production",
        (20, 22, 23, 25),
        "v4 catches 6% more card-not-present fraud at the same decline rate.",
    )
    s.promote(
        "credit-default-scorer",
        5,
        "production",
        (40, 41, 44, 46),
        "v5 adds bureau trend features; Gini +2.1 points on the holdout.",
    )
    s.promote(
        "mortgage-pd",
        3,
        "production",
        (50, 51, 53, 54),
        "Recalibrated on the 2026 performance window for IFRS 9.",
    )
    # v5 declined too many good applicants: production goes back to v4 within days.
    s.promote(
        "credit-default-scorer",
        4,
        "production",
        (55, 55, 56, 56),
        "Roll back: v5 raised false declines by 18% in the first week.",
    )
    s.day(100, 14, "periodic reviews")
    s.review("omar", "card-fraud-detector", 4, "Still fit for purpose: monitoring clean.")
    s.promote(
        "aml-transaction-monitor",
        3,
        "production",
        (120, 121, 123, 124),
        "v3 ranks 30% fewer false alerts for the investigations team.",
    )
    # The scoring endpoint kept serving v3 after production moved to v4, for a day.
    s.day(130, 8, "drift on an endpoint")
    served: dict[str, JsonValue] = {"alias": "production", "version": 4}
    seen: dict[str, JsonValue] = {
        "endpoint": ENDPOINT,
        "url": "http://scoring.internal/fraud",
        "served_versions": [3],
    }
    grace = s.desk("grace")
    subject = model_subject(s.cfg.name, "card-fraud-detector")
    grace.audit.record(
        "grace",
        LedgerAction.SERVING_DRIFT_OBSERVED,
        subject,
        before=served,
        after=seen,
        reason="fraud-scoring serves v3; production is v4",
    )
    s.day(131, 10)
    grace.audit.record(
        "grace",
        LedgerAction.SERVING_DRIFT_RESOLVED,
        subject,
        before=served,
        after={**seen, "served_versions": [4]},
        reason="fraud-scoring serves v4 again",
    )
    s.day(140, 14)
    s.review("grace", "credit-default-scorer", 4, "Reviewed after the rollback: stable since.")
    s.promote(
        "churn-propensity",
        4,
        "champion",
        (150, 151, 151, 152),
        "Champion for the retention campaign pilot.",
        approvers=("omar",),
    )
    s.day(168, 10, "a rejection")
    rid = s.request(
        "churn-propensity", 4, "production", "Promote the campaign champion to production."
    )
    s.day(170, 16)
    s.desk("grace").governance.reject(
        rid, "The bias review reference covers v3 only; redo it for v4.", PASSPHRASE
    )
    # Someone with MLflow access moves production without a request: a violation.
    s.day(180, 17, "an alias moved outside Gavel")
    s.move_behind_gavels_back("Customer LTV (Marketing's)", "production", 3)
    s.day(181, 9)
    s.desk("omar")  # its sync sees the move, which no request explains
    s.day(185, 14)
    s.review("omar", "card-fraud-detector", 4, "Quarterly review: drift incident closed.")
    s.day(195, 10, "a request still waiting")
    s.request(
        "affordability-check", 2, "production", "v2 adds salary-cycle features (medium risk)."
    )
    log.info("demo story written (%d days)", STORY_DAYS)
