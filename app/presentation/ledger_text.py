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
    LedgerAction.REQUEST_WITHDRAWN: "Request withdrawn",
    LedgerAction.PROMOTION_APPLY_STARTED: "Apply started",
    LedgerAction.PROMOTION_APPLY_FAILED: "Apply failed",
    LedgerAction.KEY_APPROVED: "Signing key approved",
    LedgerAction.KEY_ROTATED: "Signing key rotated",
    LedgerAction.IDENTITY_MAPPED: "Registry names mapped",
    LedgerAction.PROBLEM_ACKNOWLEDGED: "Ledger problem acknowledged",
    LedgerAction.RISK_TIER_OBSERVED: "Risk tier seen",
    LedgerAction.REVIEW_RECORDED: "Review recorded",
    LedgerAction.FINDING_RECORDED: "Finding recorded",
    LedgerAction.FINDING_RESOLVED: "Finding resolved",
    LedgerAction.DECISION_SUPERSEDED: "Decision superseded",
}

STATE_LABELS: dict[RequestState, str] = {
    RequestState.PENDING: "Pending",
    RequestState.APPROVED: "Approved",
    RequestState.REJECTED: "Rejected",
    RequestState.WITHDRAWN: "Withdrawn",
    RequestState.EXPIRED: "Expired",
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


def event_summary(event: LedgerEvent) -> str:
    """One sentence: what happened (before → after) and why, in the event's own terms.

    Never raw JSON: an action without its own wording says its name, its subject and
    the reason; the record itself is in the details (event_details)."""
    text = " ".join(_summary(event).split())
    return text if len(text) <= _MAX_SUMMARY else text[: _MAX_SUMMARY - 1] + "…"


def sentence(text: str) -> str:
    """Capitalised, ending with a full stop (or the text's own ! ? … )."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?…" else text + "."


def _with_reason(what: str, reason: str) -> str:
    what = sentence(what)
    return f"{what} {sentence(reason)}" if reason.strip() else what


def subject_text(subject: str) -> str:
    """'model:reg/fraud' -> 'fraud in reg'; other subjects as they are."""
    kind, _, rest = subject.partition(":")
    if kind == "model" and "/" in rest:
        registry, _, model = rest.partition("/")
        return f"{model} in {registry}" if model else registry
    if kind == "registry" and rest:
        return f"registry {rest}"
    return subject


def _move(before: object, after: object) -> str:
    alias = _get(after, "alias") or _get(before, "alias")
    if alias is None:
        # A stage move: the version stays, its stage changes.
        version = version_text(_get(after, "version") or _get(before, "version"))
        old, new = _get(before, "stage") or "none", _get(after, "stage") or "none"
        return f"stage of {version} moved from {old} to {new}"
    old_v, new_v = _get(before, "version"), _get(after, "version")
    if not isinstance(old_v, int):
        return f"alias '{alias}' set to {version_text(new_v)}"
    if not isinstance(new_v, int):
        return f"alias '{alias}' removed (it was on {version_text(old_v)})"
    return f"alias '{alias}' moved from {version_text(old_v)} to {version_text(new_v)}"


def _summary(e: LedgerEvent) -> str:
    after, before, reason = e.after, e.before, e.reason
    match e.action:
        case (
            LedgerAction.ALIAS_OBSERVED
            | LedgerAction.PROMOTION_APPLIED
            | LedgerAction.REGISTRY_CHANGE_OBSERVED
        ) if any(_get(x, k) is not None for x in (before, after) for k in ("alias", "stage")):
            moved = _move(before, after)
            if _get(after, "unapproved"):
                return sentence(f"{moved}, without an approved request")
            rid = _get(after, "request_id")
            return sentence(f"{moved} (request {rid})" if rid else moved)
        case LedgerAction.REQUEST_CREATED:
            req = _get(after, "request")
            model = _get(req, "version", "model")
            version = _get(req, "version", "version")
            target = (
                f"stage {_get(req, 'stage')}"
                if _get(req, "target_kind") == "stage"
                else f"alias '{_get(req, 'alias')}'"
            )
            return _with_reason(f"requested {model} {version_text(version)} → {target}", reason)
        case LedgerAction.REQUEST_APPROVED | LedgerAction.REQUEST_REJECTED:
            meaning = _get(after, "manifestation", "meaning") or "decision"
            return _with_reason(f"signed {meaning}", reason)
        case LedgerAction.CONFLICT_DETECTED:
            return _with_reason(f"the request is now {_get(after, 'state')}", reason)
        case LedgerAction.ROLE_GRANTED | LedgerAction.ROLE_REVOKED:
            verb = "granted" if e.action == LedgerAction.ROLE_GRANTED else "revoked"
            to = "to" if e.action == LedgerAction.ROLE_GRANTED else "from"
            return _with_reason(
                f"{verb} the {_get(after, 'role')} role {to} {_get(after, 'user')}", reason
            )
        case LedgerAction.IDENTITY_DECLARED:
            names = _get(after, "registry_usernames")
            also = (
                f"; registry names {', '.join(str(n) for n in names)}"
                if isinstance(names, list) and names
                else ""
            )
            return sentence(
                f"{_get(after, 'display_name')} ({_get(after, 'user_id')}) declared{also}"
            )
        case LedgerAction.KEY_ENROLLED:
            key = _get(after, "key_id") or e.subject
            return sentence(f"key {key} enrolled for {_get(after, 'holder') or e.actor}")
        case LedgerAction.EXPORT_MADE:
            return sentence(
                f"exported {_get(after, 'events')} events to {_get(after, 'file')} "
                f"(SHA-256 {str(_get(after, 'sha256'))[:12]}…)"
            )
        case LedgerAction.POLICY_CHANGED:
            keys = sorted(
                {
                    k
                    for k in set(_keys(before)) | set(_keys(after))
                    if _get(before, k) != _get(after, k)
                }
            )
            what = f"policy changed ({', '.join(keys)})" if keys else "policy changed"
            return _with_reason(what, reason)
        case LedgerAction.LEDGER_CREATED:
            return sentence(reason or "the ledger was created")
        case LedgerAction.REGISTRY_CHANGE_OBSERVED if _get(after, "stages") is not None:
            return sentence(reason or f"stages in {subject_text(e.subject)} recorded")
    return _with_reason(f"{action_label(e.action)}: {subject_text(e.subject)}", reason)


def _keys(value: object) -> list[str]:
    return [str(k) for k in value] if isinstance(value, Mapping) else []


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
