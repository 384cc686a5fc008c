"""How ledger events read on screen, for alias and stage promotions alike."""

from __future__ import annotations

from datetime import UTC, datetime

from app.domain.ledger import LedgerEvent
from app.ui.common.ledger_text import event_summary


def _event(action: str, before: object, after: object, reason: str = "") -> LedgerEvent:
    return LedgerEvent(
        seq=7, at=datetime(2026, 1, 1, tzinfo=UTC), actor="ann", action=action,
        subject="model:reg/fraud", before=before, after=after, reason=reason,
        prev_hash="0" * 64, hash="1" * 64,
    )  # fmt: skip


def test_alias_and_stage_moves_read_as_sentences() -> None:
    alias = _event(
        "promotion.applied",
        {"alias": "production", "version": 1},
        {"alias": "production", "version": 2, "request_id": "abc"},
    )
    assert event_summary(alias) == "alias 'production': v1 → v2 (request abc)"
    stage = _event(
        "registry.change_observed",
        {"stage": "Staging", "version": 3},
        {"stage": "Production", "version": 3, "unapproved": True},
    )
    assert event_summary(stage) == "v3 stage Staging → Production — without an approved request"
    created = _event(
        "request.created",
        None,
        {"request": {"version": {"model": "fraud", "version": 3}, "target_kind": "stage",
                     "stage": "Production"}},
        "Q3 refresh",
    )  # fmt: skip
    assert event_summary(created) == "fraud v3 → stage Production: Q3 refresh"
    baseline = _event("registry.change_observed", None, {"stages": {}}, "baseline")
    assert "baseline" in event_summary(baseline)


def test_every_ledger_action_has_a_label() -> None:
    # A raw 'promotion.apply_started' in a timeline reads as a bug to an auditor.
    from app.domain.ledger import LedgerAction
    from app.ui.common.ledger_text import ACTION_LABELS

    assert [a.value for a in LedgerAction if a not in ACTION_LABELS] == []
