"""How ledger events read on screen, for alias and stage promotions alike."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.domain.ledger import LedgerAction, LedgerEvent
from app.presentation.ledger_text import event_summary


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
    assert event_summary(alias) == "Alias 'production' moved from v1 to v2 (request abc)."
    stage = _event(
        "registry.change_observed",
        {"stage": "Staging", "version": 3},
        {"stage": "Production", "version": 3, "unapproved": True},
    )
    assert event_summary(stage) == (
        "Stage of v3 moved from Staging to Production, without an approved request."
    )
    created = _event(
        "request.created",
        None,
        {"request": {"version": {"model": "fraud", "version": 3}, "target_kind": "stage",
                     "stage": "Production"}},
        "Q3 refresh",
    )  # fmt: skip
    assert event_summary(created) == "Requested fraud v3 → stage Production. Q3 refresh."
    seen = _event("alias.observed", None, {"alias": "champion", "version": 4})
    assert event_summary(seen) == "Alias 'champion' set to v4."


def test_the_first_stage_baseline_reads_as_its_sentence_not_json() -> None:
    # What was seen: `— → {"stages": {}}: First comparison…`
    reason = "First comparison of stages in reg: 0 version(s) in a stage recorded as the baseline."
    baseline = _event("registry.change_observed", None, {"stages": {}}, reason)
    assert event_summary(baseline) == reason


_SAMPLES: list[tuple[object, object, str]] = [
    (None, None, ""),
    (None, {"stages": {"fraud": {"3": "Production"}}}, "because"),
    ({"require_approvals": 1}, {"require_approvals": 2, "expiry_days": 7}, ""),
    ({"tier": "low"}, {"tier": "high"}, "tag changed"),
]


@pytest.mark.parametrize("action", [a.value for a in LedgerAction] + ["future.action"])
@pytest.mark.parametrize(("before", "after", "reason"), _SAMPLES)
def test_every_summary_is_a_sentence_without_json(
    action: str, before: object, after: object, reason: str
) -> None:
    text = event_summary(_event(action, before, after, reason))
    assert text and text[0].isupper() and text.endswith((".", "…")), text
    for raw in ("{", "}", '"', "—"):
        assert raw not in text, text


def test_every_ledger_action_has_a_label() -> None:
    # A raw 'promotion.apply_started' in a timeline reads as a bug to an auditor.
    from app.presentation.ledger_text import ACTION_LABELS

    assert [a.value for a in LedgerAction if a not in ACTION_LABELS] == []
