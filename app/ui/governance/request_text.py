"""A promotion request in words: where it stands, what its policy asks, and the
version, request and evidence as one document for the detail pane."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from app.domain.governance import CHECKLIST, RequestState
from app.presentation.formatting import from_ms, utc_text
from app.presentation.ledger_text import STATE_LABELS, checklist_label
from app.services.governance import RequestView
from app.ui.common.theme import semantic


def status_sentence(view: RequestView) -> tuple[str, str]:
    """(kind, sentence): where the request stands, in words."""
    r, status = view.request, view.status
    if view.blocked and r.is_open:
        return "problem", f"{view.blocked_text} Nobody is asked to sign it."
    match r.state:
        case RequestState.PENDING:
            if status.satisfied:
                return "pending", "Pending: the policy is satisfied; the next approval decides."
            return "pending", f"Still needed: {status.describe()}"
        case RequestState.APPROVED:
            if status.satisfied:
                return "approved", "Approved: the policy is satisfied. Ready to apply."
            return "problem", f"Approved, but no longer satisfies its policy: {status.describe()}"
        case RequestState.APPLIED:
            by = r.state_reason.removeprefix("applied by ").strip()
            where = f" (event {r.applied_seq})" if r.applied_seq else ""
            return "approved", f"Applied to the registry by {by}{where}."
        case RequestState.REJECTED:
            # The fold's reason reads "rejected by ann: <comment>".
            return "problem", r.state_reason[:1].upper() + r.state_reason[1:]
    label = STATE_LABELS.get(r.state, r.state.value)
    if r.state_reason.lower().startswith(label.lower()):
        # The fold's reason already names the state ("withdrawn by ada: …").
        return "problem", r.state_reason[:1].upper() + r.state_reason[1:]
    return "problem", f"{label}: {r.state_reason}"


def policy_text(view: RequestView) -> str:
    p = view.policy
    tier = view.tier.capitalize()
    if view.tier != (view.request.risk_tier or "high"):
        tier += f" (requested as {view.request.risk_tier or 'not set'})"
    need = f"{p.approvals_required} approval{'s' if p.approvals_required > 1 else ''}"
    need += f" from {'distinct ' if p.approvals_required > 1 else 'an '}{p.required_role.value}"
    need += "s" if p.approvals_required > 1 else ""
    evidence = ", ".join(CHECKLIST[c] for c in p.required_checklist) or "none"
    thresholds = ", ".join(str(t) for t in p.metric_thresholds) or "none"
    return f"{tier} risk: {need}; evidence required: {evidence}; metric thresholds: {thresholds}"


def _row(label: str, value: str) -> str:
    return (
        f"<tr><td style='color:{semantic().muted}; padding:2px 12px 2px 0; white-space:nowrap' "
        f"valign='top'>{escape(label)}</td><td style='padding:2px 0'>{value}</td></tr>"
    )


def _section(title: str, rows: str) -> str:
    return (
        f"<p style='font-weight:600; color:{semantic().text}; margin:10px 0 4px 0'>"
        f"{escape(title)}</p>"
        f"<table cellspacing='0' cellpadding='0'>{rows}</table>"
    )


def info_html(view: RequestView, as_of: str = "") -> str:
    """The version, the request and its evidence, as one document.

    as_of: 'as of replica …' while the team ledger cannot be reached.
    """
    r = view.request
    ident = r.identity
    created = from_ms(ident.creation_timestamp)
    was = r.alias_version_at_request
    version_rows = "".join(
        _row(label, escape(value))
        for label, value in (
            ("Registry", ident.registry),
            ("Model", ident.model),
            ("Version", f"v{ident.version}"),
            ("Run", ident.run_id or "not from a tracked run"),
            ("Source", ident.source or "—"),
            ("Created", utc_text(created) if created else "not recorded"),
        )
    )
    request_rows = "".join(
        _row(label, escape(value))
        for label, value in (
            ("Request", f"{r.request_id} (event {r.created_seq})"),
            ("Request record", f"SHA-256 {r.created_hash}"),
            (
                (
                    "Target stage",
                    f"{r.stage} — the version was in {r.stage_at_request or 'no stage'} "
                    "when requested",
                )
                if r.is_stage
                else (
                    "Target alias",
                    f"'{r.alias}' — pointed at {f'v{was}' if was is not None else 'nothing'} "
                    "when requested",
                )
            ),
            ("Requested by", f"{r.requester} on {utc_text(r.created_at)}"),
            ("Justification", r.justification),
            ("Policy", policy_text(view)),
        )
    )
    checklist = _checklist_html(r.checklist, view.policy.required_checklist)
    notes = "".join(f"<p style='margin:2px 0'>{escape(n)}</p>" for n in view.notes)
    if as_of:
        notes = (
            f"<p style='margin:2px 0'><b>This view is {escape(as_of)}</b>: the team ledger "
            "cannot be reached, so later decisions may be missing.</p>" + notes
        )
    return (
        (f"<div style='margin:0 0 6px 0'>{notes}</div>" if notes else "")
        + _section("Version", version_rows)
        + _section("Request", request_rows)
        + _section("Evidence checklist", checklist)
    )


def _checklist_html(given: Mapping[str, str], required: Sequence[str]) -> str:
    rows = []
    sem = semantic()
    for key in CHECKLIST:
        reference = given.get(key, "").strip()
        needed = key in required
        if reference:
            mark, color, text = "✓", sem.ok, escape(reference)
        elif needed:
            mark, color, text = "✗", sem.error, "<b>missing</b>"
        else:
            mark, color, text = "–", sem.muted, "not given"
        tag = f" <span style='color:{sem.muted}'>(required)</span>" if needed else ""
        rows.append(
            f"<tr><td style='color:{color}; padding-right:6px'>{mark}</td>"
            f"<td style='padding-right:10px'>{escape(checklist_label(key))}{tag}</td>"
            f"<td>{text}</td></tr>"
        )
    return "".join(rows)
