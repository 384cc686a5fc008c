"""How ledger events read on screen: action names, one-line summaries, full details.

An auditor scans the summary column; the tooltip holds the whole record. Actions this
Gavel does not know (written by a newer version) still show, as their raw name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC

from app.domain.governance import CHECKLIST, RequestState
from app.domain.ledger import LedgerAction, LedgerEvent

ACTION_LABELS: dict[str, str] = {
    LedgerAction.REQUEST_CREATED: "Promotion requested",
    LedgerAction.REQUEST_APPROVED: "Approved (signed)",
    LedgerAction.REQUEST_REJECTED: "Rejected (signed)",
    LedgerAction.COMMENT_ADDED: "Comment",
    LedgerAction.PROMOTION_APPLIED: "Promotion applied",
    LedgerAction.CONFLICT_DETECTED: "Not applied",
    LedgerAction.KEY_ENROLLED: "Signing key enrolled",
    LedgerAction.KEY_REVOKED: "Signing key revoked",
    LedgerAction.ROLE_GRANTED: "Role granted",
    LedgerAction.ROLE_REVOKED: "Role revoked",
    LedgerAction.POLICY_CHANGED: "Policy changed",
    LedgerAction.ALIAS_OBSERVED: "Alias change seen",
    LedgerAction.REGISTRY_CHANGE_OBSERVED: "Registry change seen",
    LedgerAction.EXPORT_MADE: "Ledger exported",
    LedgerAction.IDENTITY_DECLARED: "Identity declared",
    LedgerAction.SERVING_DRIFT_OBSERVED: "Serving drift seen",
    LedgerAction.SERVING_DRIFT_RESOLVED: "Serving drift resolved",
    LedgerAction.LEDGER_CREATED: "Ledger created",
    LedgerAction.REQUEST_WITHDRAWN: "Request withdrawn (signed)",
    LedgerAction.PROMOTION_APPLY_STARTED: "Apply started (signed claim)",
    LedgerAction.PROMOTION_APPLY_FAILED: "Apply failed, claim released",
    LedgerAction.KEY_APPROVED: "Signing key approved by an admin",
    LedgerAction.KEY_ROTATED: "Signing key replaced",
    LedgerAction.IDENTITY_MAPPED: "Registry user names mapped",
    LedgerAction.PROBLEM_ACKNOWLEDGED: "Ledger problem acknowledged",
    LedgerAction.RISK_TIER_OBSERVED: "Risk tier change seen",
    LedgerAction.REVIEW_RECORDED: "Periodic review (signed)",
    LedgerAction.FINDING_RECORDED: "Audit finding recorded",
    LedgerAction.FINDING_RESOLVED: "Audit finding resolved",
    LedgerAction.DECISION_SUPERSEDED: "Decision superseded",
}

STATE_LABELS: dict[RequestState, str] = {
    RequestState.PENDING: "Pending",
    RequestState.APPROVED: "Approved",
    RequestState.REJECTED: "Rejected",
    RequestState.APPLIED: "Applied",
    RequestState.CONFLICT: "Conflict",
    RequestState.VOID: "Void",
    RequestState.STALE: "Stale",
}

_MAX_SUMMARY = 160


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


def version_text(version: object) -> str:
    return f"v{version}" if isinstance(version, int) else "nothing"


def short_id(value: str, keep: int = 12) -> str:
    return value if len(value) <= keep else value[:keep] + "…"


def timestamp_text(event: LedgerEvent) -> str:
    return event.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _get(value: object, *path: str) -> object:
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def compact_json(value: object, limit: int = 80) -> str:
    if value is None:
        return "—"
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def event_summary(event: LedgerEvent) -> str:
    """One line: what changed (before → after) and why, in the event's own terms."""
    text = _summary(event)
    text = " ".join(text.split())
    return text if len(text) <= _MAX_SUMMARY else text[: _MAX_SUMMARY - 1] + "…"


def _summary(e: LedgerEvent) -> str:
    after, before, reason = e.after, e.before, e.reason
    match e.action:
        case (
            LedgerAction.ALIAS_OBSERVED
            | LedgerAction.PROMOTION_APPLIED
            | LedgerAction.REGISTRY_CHANGE_OBSERVED
        ) if _get(after, "alias") is not None or _get(after, "stage") is not None:
            alias = _get(after, "alias")
            if alias is None:
                # A stage move: the version stays, its stage changes.
                moved = f"{version_text(_get(after, 'version'))} stage "
                moved += f"{_get(before, 'stage') or 'none'} → {_get(after, 'stage') or 'none'}"
            else:
                moved = f"alias '{alias}': {version_text(_get(before, 'version'))} → "
                moved += version_text(_get(after, "version"))
            if _get(after, "unapproved"):
                return f"{moved} — without an approved request"
            rid = _get(after, "request_id")
            return f"{moved} (request {rid})" if rid else moved
        case LedgerAction.REQUEST_CREATED:
            req = _get(after, "request")
            model = _get(req, "version", "model")
            version = _get(req, "version", "version")
            target = (
                f"stage {_get(req, 'stage')}"
                if _get(req, "target_kind") == "stage"
                else _get(req, "alias")
            )
            return f"{model} {version_text(version)} → {target}: {reason}"
        case LedgerAction.REQUEST_APPROVED | LedgerAction.REQUEST_REJECTED:
            meaning = _get(after, "manifestation", "meaning") or "decision"
            return f"signed {meaning}" + (f": {reason}" if reason else "")
        case LedgerAction.CONFLICT_DETECTED:
            return f"request now {_get(after, 'state')}: {reason}"
        case LedgerAction.ROLE_GRANTED | LedgerAction.ROLE_REVOKED:
            return f"{_get(after, 'role')} role for {_get(after, 'user')}: {reason}"
        case LedgerAction.IDENTITY_DECLARED:
            names = _get(after, "registry_usernames")
            also = (
                f"; registry names {', '.join(str(n) for n in names)}"
                if isinstance(names, list) and names
                else ""
            )
            return f"{_get(after, 'display_name')} ({_get(after, 'user_id')}){also}"
        case LedgerAction.KEY_ENROLLED:
            key = _get(after, "key_id") or e.subject
            return f"key {key} for {_get(after, 'holder') or e.actor}"
        case LedgerAction.EXPORT_MADE:
            return (
                f"{_get(after, 'events')} events to {_get(after, 'file')} "
                f"(SHA-256 {str(_get(after, 'sha256'))[:12]}…)"
            )
        case LedgerAction.POLICY_CHANGED:
            return f"{compact_json(before)} → {compact_json(after)}"
    if before is None and after is None:
        return reason
    change = f"{compact_json(before)} → {compact_json(after)}"
    return f"{change}: {reason}" if reason else change


def event_details(e: LedgerEvent) -> str:
    """The whole record, for a tooltip or a details pane."""
    lines = [
        f"Event {e.seq} · {timestamp_text(e)}",
        f"Actor: {e.actor}",
        f"Action: {action_label(e.action)} ({e.action})",
        f"Subject: {e.subject}",
    ]
    if e.reason:
        lines.append(f"Reason: {e.reason}")
    if e.before is not None:
        lines.append("Before: " + json.dumps(e.before, sort_keys=True, ensure_ascii=False))
    if e.after is not None:
        lines.append("After: " + json.dumps(e.after, sort_keys=True, ensure_ascii=False))
    lines.append(f"Signed by: {e.signer}" if e.signer else "Not signed")
    lines.append(f"Hash: {e.hash}")
    lines.append(f"Previous: {e.prev_hash}")
    return "\n".join(lines)


def checklist_label(key: str) -> str:
    return CHECKLIST.get(key, key).capitalize()
