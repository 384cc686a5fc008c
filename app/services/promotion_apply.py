"""Applying an approved promotion to the registry, exactly once, and noticing when the
world changed under the request (CONFLICT, VOID, STALE)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.domain.entities import ModelVersion
from app.domain.errors import GavelError, NotFound, PermissionDenied
from app.domain.governance import (
    Evidence,
    PromotionRequest,
    RequestState,
    request_subject,
    stage_name,
)
from app.domain.ledger import LedgerAction
from app.domain.ledger_query import alias_payload, model_subject, stage_payload
from app.services.governance import (
    TAG_APPROVED_BY,
    TAG_LEDGER_HASH,
    TAG_REQUEST,
    GovernanceService,
)

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


class PromotionApplier:
    def __init__(self, governance: GovernanceService) -> None:
        self._gov = governance

    def apply(self, request_id: str) -> ApplyOutcome:
        """Re-read the registry, then set the governance tags and the alias (or move the
        version into the stage), and record it."""
        gov = self._gov
        me = gov.me()
        request = gov.request(request_id)
        if request.state is RequestState.APPLIED:
            return ApplyOutcome(request, False, False, "This promotion was already applied.")
        if request.state is RequestState.PENDING:
            raise PromotionNotApplied(
                f"Request {request.request_id} is not approved yet: "
                f"{gov.view(request).status.describe()}"
            )
        if request.state is not RequestState.APPROVED:
            raise PromotionNotApplied(
                f"Request {request.request_id} is {request.state.value}: {request.state_reason}."
            )
        status = gov.view(request).status
        if not status.satisfied:
            # Roles revoked or policy tightened since the last approval.
            raise PromotionNotApplied(
                f"Request {request.request_id} no longer satisfies its policy: {status.describe()}"
            )
        ident = request.identity
        cfg = gov.registry_config(ident.registry)
        with gov.client(cfg) as client:
            try:
                current = client.get_model_version(ident.model, ident.version)
            except NotFound:
                return self._stop(
                    request,
                    RequestState.VOID,
                    (
                        f"version {ident.version} of {ident.model} no longer exists in "
                        f"{ident.registry}"
                    ),
                )
            if (current.creation_timestamp, current.run_id) != (
                ident.creation_timestamp,
                ident.run_id,
            ):
                return self._stop(
                    request,
                    RequestState.VOID,
                    (
                        f"{ident.model} v{ident.version} was deleted and recreated (it now has "
                        f"another creation time or run); the approved version is gone"
                    ),
                )
            holder = _target_now(client, request, current)
            if _applied_by(current, request):
                # Our write reached the registry but the ledger entry did not (a crash in
                # between): record it now instead of writing again.
                self._record_applied(request, _target_at_request(request), reconciled=True)
                return ApplyOutcome(
                    gov.request(request.request_id),
                    True,
                    True,
                    "The registry already showed this promotion; the ledger now records it.",
                )
            if holder != _target_at_request(request):
                what = (
                    f"version {ident.version} of {ident.model}"
                    if request.is_stage
                    else f"alias '{request.alias}'"
                )
                moved = (
                    f"{what} moved from {_target_text(request, _target_at_request(request))} "
                    f"to {_target_text(request, holder)}"
                )
                return self._stop(
                    request, RequestState.CONFLICT, f"{moved} since the request was made"
                )
            if ident.run_id:
                runs = client.fetch_runs([ident.run_id])
                run = runs.get(ident.run_id)
                now = Evidence(
                    {k: m.value for k, m in run.metrics.items()} if run else {},
                    tuple(d.digest for d in run.datasets) if run else (),
                )
                if now.digest() != request.evidence_digest:
                    return self._stop(
                        request,
                        RequestState.STALE,
                        ("the run's metrics or datasets changed after the request was approved"),
                    )
            approvals = request.approvals
            tags = {
                TAG_REQUEST: request.request_id,
                TAG_APPROVED_BY: ",".join(sorted({d.actor for d in approvals})),
                TAG_LEDGER_HASH: approvals[-1].event_hash if approvals else request.created_hash,
            }
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
                    f"{me.user_id} may not write to {ident.registry} ({exc.message}). The request "
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
        self._record_applied(request, holder, reconciled=False)
        log.info("request %s applied: %s", request.request_id, request.target_text)
        return ApplyOutcome(gov.request(request.request_id), True, False, "Promotion applied.")

    def reconcile(self) -> list[ApplyOutcome]:
        """After a restart: record approved promotions the registry already shows applied."""
        outcomes = []
        for request in self._gov.requests():
            if request.state is not RequestState.APPROVED:
                continue
            ident = request.identity
            try:
                with self._gov.client(self._gov.registry_config(ident.registry)) as client:
                    version = client.get_model_version(ident.model, ident.version)
            except GavelError as exc:
                log.info("reconcile of %s skipped: %s", request.request_id, exc.message)
                continue
            if _applied_by(version, request):
                self._record_applied(request, _target_at_request(request), reconciled=True)
                outcomes.append(
                    ApplyOutcome(
                        self._gov.request(request.request_id),
                        True,
                        True,
                        "Recorded a promotion the registry already showed.",
                    )
                )
        return outcomes

    def _record_applied(
        self, request: PromotionRequest, before: TargetState, reconciled: bool
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
        self._gov.audit.record(
            self._gov.me().user_id,
            LedgerAction.PROMOTION_APPLIED,
            model_subject(ident.registry, ident.model),
            before=before_payload,
            after={**after_payload, "request_id": request.request_id},
            reason=(
                "Reconciled from the registry after an interrupted apply."
                if reconciled
                else f"Applied approved request {request.request_id}."
            ),
        )

    def _stop(self, request: PromotionRequest, state: RequestState, why: str) -> ApplyOutcome:
        self._gov.audit.record(
            self._gov.me().user_id,
            LedgerAction.CONFLICT_DETECTED,
            request_subject(request.request_id),
            after={"state": state.value},
            reason=why[0].upper() + why[1:] + ".",
        )
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
