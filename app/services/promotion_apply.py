"""Applying an approved promotion to the registry, exactly once, and noticing when the
world changed under the request (CONFLICT, VOID, STALE).

An apply first claims the request: a signed ``promotion.apply_started`` appended under
the ledger's append lock, which the authority fold accepts only for an approved
request nobody else is applying. Only the claimant then writes to the registry, and
only after re-checking, from a fold of the whole ledger made just then and from the
registry read just then, every approval it acts on (signature, role at its time,
distinct people, separation of duties against the version's real creator and run
user, the policy of the strictest tier). Its outcome is signed too: applied, failed
(the claim is released) or stopped (CONFLICT, VOID, STALE).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from app.domain.authority import AuthorityState
from app.domain.entities import ModelVersion
from app.domain.errors import GavelError, NotFound, PermissionDenied
from app.domain.governance import (
    Evidence,
    InvalidState,
    PromotionRequest,
    RequestState,
    policy_status,
    request_subject,
    stage_name,
    strictest_tier,
)
from app.domain.ledger import LedgerAction, LedgerDraft
from app.domain.ledger_keys import EventSigner
from app.domain.ledger_query import alias_payload, model_subject, stage_payload
from app.domain.tags import TAG_APPROVED_BY, TAG_LEDGER_HASH, TAG_REQUEST, TAG_RISK_TIER
from app.services.governance import GovernanceService

if TYPE_CHECKING:
    from app.connectors.mlflow_registry import MlflowRegistryClient

# Where the target stands: the version an alias points at, or a version's stage.
TargetState = int | str | None

log = logging.getLogger("gavel.promotion")


class PromotionNotApplied(GavelError):
    """The promotion was not applied; the message says why and what happens next."""


@dataclass(frozen=True)
class ApplyOutcome:
    request: PromotionRequest
    applied: bool
    reconciled: bool  # the registry already showed it applied (e.g. after a crash)
    message: str


ModelRefresher = Callable[[str, str], object]


class PromotionApplier:
    """refresh: re-reads one model (registry, name) into the cache after an apply, so
    every view shows the new alias or stage at once, not at the next sync."""

    def __init__(
        self, governance: GovernanceService, refresh: ModelRefresher = lambda _r, _m: None
    ) -> None:
        self._gov = governance
        self._refresh = refresh

    def apply(self, request_id: str, passphrase: str) -> ApplyOutcome:
        """Claim the request, re-check it, write tags then the alias (or stage), record it."""
        gov = self._gov
        request = gov.request(request_id)
        if request.state is RequestState.APPLIED:
            applied = gov.events_of(request)[-1]
            return ApplyOutcome(
                request,
                False,
                False,
                f"Already applied by {applied.actor} at {applied.at:%Y-%m-%d %H:%M:%S} UTC.",
            )
        if request.state is RequestState.PENDING:
            raise PromotionNotApplied(
                f"Request {request.request_id} is not approved yet: "
                f"{gov.view(request).status.describe()}"
            )
        gov.require_no_problems()
        signer = gov.actor.signer(passphrase)
        me = gov.actor.user_id()
        self._claim(request, me, signer)
        try:
            outcome = self._apply_claimed(request.request_id, me, signer)
        except GavelError as exc:
            self._release(request, me, signer, exc.message)
            raise
        log.info("request %s: %s", request.request_id, outcome.message)
        try:
            self._refresh(request.identity.registry, request.identity.model)
        except GavelError as exc:
            # The ledger holds the outcome; the cache catches up at the next sync.
            log.warning("cache not refreshed after apply: %s", exc.message)
        return outcome

    def _claim(self, request: PromotionRequest, me: str, signer: EventSigner) -> None:
        draft = LedgerDraft(
            me,
            LedgerAction.PROMOTION_APPLY_STARTED.value,
            request_subject(request.request_id),
            after={"request_id": request.request_id},
            reason=f"Applying {request.target_text}.",
        )
        try:
            self._gov.authority.write(signer, lambda _s: [draft])
        except InvalidState as exc:
            raise PromotionNotApplied(f"Not applied: {exc.message}") from None

    def _release(self, request: PromotionRequest, me: str, signer: EventSigner, why: str) -> None:
        """Record that this claim wrote nothing, so someone can try again."""
        draft = LedgerDraft(
            me,
            LedgerAction.PROMOTION_APPLY_FAILED.value,
            request_subject(request.request_id),
            after={"request_id": request.request_id},
            reason=why,
        )
        try:
            self._gov.authority.write(signer, lambda _s: [draft])
        except GavelError as exc:
            # The claim then lapses by itself (CLAIM_TTL); say so in the log.
            log.warning("claim on %s not released: %s", request.request_id, exc.message)

    def _apply_claimed(self, request_id: str, me: str, signer: EventSigner) -> ApplyOutcome:
        gov = self._gov
        # Nothing cached is trusted for the write: fold the whole ledger again.
        fresh = gov.authority.fresh()
        if fresh.open_problems():
            raise PromotionNotApplied(
                "Nothing was written to the registry: the ledger does not verify: "
                f"{fresh.open_problems()[0].describe()}"
            )
        request = fresh.requests[request_id]
        if request.claim is None or request.claim.actor != me:
            raise PromotionNotApplied(f"Request {request_id} is not claimed by {me}.")
        ident = request.identity
        with gov.client(gov.registry_config(ident.registry)) as client:
            try:
                current = client.get_model_version(ident.model, ident.version)
            except NotFound:
                return self._stop(
                    request,
                    me,
                    signer,
                    RequestState.VOID,
                    f"version {ident.version} of {ident.model} no longer exists in "
                    f"{ident.registry}",
                )
            if (current.creation_timestamp, current.run_id) != (
                ident.creation_timestamp,
                ident.run_id,
            ):
                return self._stop(
                    request,
                    me,
                    signer,
                    RequestState.VOID,
                    f"{ident.model} v{ident.version} was deleted and recreated (it now has "
                    "another creation time or run); the approved version is gone",
                )
            if _applied_by(current, request):
                # Our write reached the registry but the ledger entry did not (a crash in
                # between): record it now instead of writing again.
                self._record_applied(request, me, signer, _target_at_request(request), True)
                return ApplyOutcome(
                    gov.request(request_id),
                    True,
                    True,
                    "The registry already showed this promotion; the ledger now records it.",
                )
            holder = _target_now(client, request, current)
            if holder != _target_at_request(request):
                what = (
                    f"version {ident.version} of {ident.model}"
                    if request.is_stage
                    else f"alias '{request.alias}'"
                )
                return self._stop(
                    request,
                    me,
                    signer,
                    RequestState.CONFLICT,
                    f"{what} moved from {_target_text(request, _target_at_request(request))} to "
                    f"{_target_text(request, holder)} since the request was made",
                )
            run = client.fetch_runs([ident.run_id]).get(ident.run_id) if ident.run_id else None
            if ident.run_id:
                now = Evidence(
                    {k: m.value for k, m in run.metrics.items()} if run else {},
                    tuple(d.digest for d in run.datasets) if run else (),
                )
                if now.digest() != request.evidence_digest:
                    return self._stop(
                        request,
                        me,
                        signer,
                        RequestState.STALE,
                        "the run's metrics or datasets changed after the request was approved",
                    )
            tier_now = client.get_registered_model(ident.model).tags.get(TAG_RISK_TIER, "")
            self._recheck(fresh, request, current.user_id, run.user_id if run else "", tier_now)
            approvals = request.approvals
            tags = {
                TAG_REQUEST: request.request_id,
                TAG_APPROVED_BY: ",".join(sorted({d.actor for d in approvals})),
                TAG_LEDGER_HASH: approvals[-1].event_hash if approvals else request.created_hash,
            }
            self._write(client, request, tags, me)
        self._record_applied(request, me, signer, holder, False)
        return ApplyOutcome(gov.request(request_id), True, False, "Promotion applied.")

    def _recheck(
        self,
        fresh: AuthorityState,
        request: PromotionRequest,
        creator: str,
        run_user: str,
        tier_now: str,
    ) -> None:
        """The approvals this apply acts on, judged against the registry as it is now.

        The fold checked each approval against what the request recorded; a request
        that recorded the wrong creator or run user, or a tier that was raised since,
        is caught here, before anything is written.
        """
        authors = {n.lower() for n in (creator, run_user) if n}
        valid = [
            d
            for d in request.decisions
            if not (fresh.names_of(d.actor) & authors) and d.actor != request.requester
        ]
        tier = strictest_tier(
            request.risk_tier,
            fresh.observed_tier(model_subject(request.identity.registry, request.identity.model)),
            tier_now,
        )
        checked = replace(request, decisions=valid, version_creator=creator, run_user=run_user)
        status = policy_status(checked, fresh.policy(tier))
        dropped = sorted({d.actor for d in request.approvals} - {d.actor for d in valid})
        if not status.satisfied:
            why = (
                f"approvals by {', '.join(dropped)} do not count (they created or trained "
                "the version, as the registry shows it now); "
                if dropped
                else ""
            )
            raise PromotionNotApplied(
                f"Nothing was written to the registry: {why}under the {tier}-risk policy the "
                f"request needs {status.describe()[0].lower()}{status.describe()[1:]}"
            )
        if tier == "high":
            unmapped = [n for n in (creator, run_user) if n and fresh.owner_of(n) is None]
            if unmapped:
                raise PromotionNotApplied(
                    f"Nothing was written to the registry: the version's author "
                    f"'{unmapped[0]}' maps to no Gavel identity, which a high-risk "
                    "promotion does not allow; an admin maps it with 'gavel identity map'."
                )

    def _write(
        self,
        client: MlflowRegistryClient,
        request: PromotionRequest,
        tags: dict[str, str],
        me: str,
    ) -> None:
        ident = request.identity
        try:
            # Tags first: if we die after the alias or stage write, the tag proves it
            # was ours.
            for key, value in tags.items():
                client.set_model_version_tag(ident.model, ident.version, key, value)
            if request.is_stage:
                # Other versions in the stage stay where they are: every stage move
                # is then explained by exactly one request.
                client.transition_model_version_stage(
                    ident.model, ident.version, request.stage, archive_existing_versions=False
                )
            else:
                client.set_registered_model_alias(ident.model, request.alias, ident.version)
        except PermissionDenied as exc:
            raise PromotionNotApplied(
                f"{me} may not write to {ident.registry} ({exc.message}). The request "
                "stays approved; anyone with write permission can apply it."
            ) from None
        check = client.get_model_version(ident.model, ident.version)
        missing = [k for k, v in tags.items() if check.tags.get(k) != v]
        if missing or not _shows_target(check, request):
            shown = (
                f"stage {stage_name(check.current_stage)}"
                if request.is_stage
                else f"alias present {request.alias in check.aliases}"
            )
            raise PromotionNotApplied(
                f"The registry did not keep the promotion (read back: {shown}, tags "
                f"missing {missing}); check the registry and apply again."
            )

    def written_not_recorded(self) -> list[PromotionRequest]:
        """Approved requests the registry already shows applied (by our tags) while the
        ledger does not: an apply interrupted between the two. Applying them again
        records them without writing twice. Reads only; signs nothing."""
        found = []
        for request in self._gov.requests():
            if request.state is not RequestState.APPROVED:
                continue
            ident = request.identity
            try:
                with self._gov.client(self._gov.registry_config(ident.registry)) as client:
                    version = client.get_model_version(ident.model, ident.version)
            except GavelError as exc:
                log.info("check of %s skipped: %s", request.request_id, exc.message)
                continue
            if _applied_by(version, request):
                found.append(request)
        return found

    def _record_applied(
        self,
        request: PromotionRequest,
        me: str,
        signer: EventSigner,
        before: TargetState,
        reconciled: bool,
    ) -> None:
        """before: the alias's version, or the version's stage, before the promotion."""
        ident = request.identity
        if request.is_stage:
            before_payload = stage_payload(ident.version, str(before))
            after_payload = stage_payload(ident.version, request.stage)
        else:
            held = before if isinstance(before, int) else None
            before_payload = alias_payload(request.alias, held)
            after_payload = alias_payload(request.alias, ident.version)
        draft = LedgerDraft(
            me,
            LedgerAction.PROMOTION_APPLIED.value,
            model_subject(ident.registry, ident.model),
            before=before_payload,
            after={**after_payload, "request_id": request.request_id},
            reason=(
                "Reconciled from the registry after an interrupted apply."
                if reconciled
                else f"Applied approved request {request.request_id}."
            ),
        )
        self._gov.authority.write(signer, lambda _s: [draft])

    def _stop(
        self,
        request: PromotionRequest,
        me: str,
        signer: EventSigner,
        state: RequestState,
        why: str,
    ) -> ApplyOutcome:
        draft = LedgerDraft(
            me,
            LedgerAction.CONFLICT_DETECTED.value,
            request_subject(request.request_id),
            after={"state": state.value},
            reason=why[0].upper() + why[1:] + ".",
        )
        self._gov.authority.write(signer, lambda _s: [draft])
        msg = (
            f"Not applied: {why}. The request is now {state.value}; a new request and "
            "decision are needed."
        )
        return ApplyOutcome(self._gov.request(request.request_id), False, False, msg)


def _target_now(
    client: MlflowRegistryClient, request: PromotionRequest, version: ModelVersion
) -> TargetState:
    """The version the alias points at now, or the version's stage now."""
    if request.is_stage:
        return stage_name(version.current_stage)
    return client.get_registered_model(version.model_name).aliases.get(request.alias)


def _target_at_request(request: PromotionRequest) -> TargetState:
    return request.stage_at_request if request.is_stage else request.alias_version_at_request


def _shows_target(version: ModelVersion, request: PromotionRequest) -> bool:
    """Whether a freshly read version shows the promotion's alias or stage."""
    if request.is_stage:
        return stage_name(version.current_stage) == request.stage
    return request.alias in version.aliases


def _applied_by(version: ModelVersion, request: PromotionRequest) -> bool:
    """A single-version read shows this request applied: our tag, and its alias or stage."""
    return version.tags.get(TAG_REQUEST) == request.request_id and _shows_target(version, request)


def _target_text(request: PromotionRequest, state: TargetState) -> str:
    if request.is_stage:
        return f"stage {state}"
    return "nothing" if state is None else f"v{state}"
