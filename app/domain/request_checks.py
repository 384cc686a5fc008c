"""Whether a pending request can still be applied as it was made, from what the cache
shows now: a request whose alias moved, whose version was replaced or whose evidence
changed says so before anyone is asked to sign it."""

from __future__ import annotations

from app.domain.governance import Evidence, PromotionRequest, stage_name
from app.domain.portfolio import VersionState


def cannot_apply(
    request: PromotionRequest, state: VersionState | None, evidence_now: Evidence | None
) -> str:
    """Why the request cannot be applied as requested ('' when it can), as a phrase.

    state: the version as cached now (None: not in the cache).
    evidence_now: the run's metrics and datasets as cached now (None: unknown).
    """
    ident = request.identity
    what = f"{ident.model} v{ident.version}"
    if state is None:
        return f"{what} is no longer in the registry (as last synced)"
    if (state.creation_timestamp, state.run_id) != (ident.creation_timestamp, ident.run_id):
        return f"{what} was deleted and recreated since the request was made"
    if request.is_stage:
        now = stage_name(state.current_stage)
        if now == request.stage:
            return f"{what} is already in stage {now}: it was moved outside the workflow"
        if now != request.stage_at_request:
            return (
                f"{what} moved from stage {request.stage_at_request} to stage {now} since the "
                "request was made"
            )
    else:
        held = state.model_aliases.get(request.alias)
        if held == ident.version:
            return (
                f"alias '{request.alias}' already points at v{ident.version}: it was moved "
                "outside the workflow"
            )
        if held != request.alias_version_at_request:
            return (
                f"alias '{request.alias}' now points at {_v(held)} (it pointed at "
                f"{_v(request.alias_version_at_request)} when requested)"
            )
    if evidence_now is not None and evidence_now.digest() != request.evidence_digest:
        return "the run's metrics or datasets changed since the request was made"
    return ""


def _v(version: int | None) -> str:
    return "nothing" if version is None else f"v{version}"
