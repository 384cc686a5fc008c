"""Stage targets end to end ("a stage for registries that still use stages"): requested,
signed, applied as an MLflow stage transition, reconciled after a crash, and a stage
moved behind governance's back is a conflict at apply and a violation at the next sync.
Same team as tests/test_governance_e2e.py: real MLflow, PostgreSQL team ledger."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.domain.authority_requests import parse_request
from app.domain.governance import (
    PromotionRequest,
    RequestState,
    SignatureMeaning,
    TargetKind,
)
from app.domain.ledger import LedgerAction, LedgerEvent
from app.domain.ledger_query import LedgerQuery
from app.domain.tags import TAG_APPROVED_BY, TAG_LEDGER_HASH, TAG_REQUEST
from tests import test_governance_e2e as e2e
from tests.fixtures.mlflow import MlflowRegistry
from tests.test_cli import assert_one_line_error, gavel
from tests.test_cli_governance import _home, pp, signed
from tests.test_governance_e2e import CHECKLIST, PASS, Team

pytestmark = pytest.mark.integration

# Three profiles on one team ledger and a seeded model (v1..v3, production -> v1).
team = e2e.team


def _approved_stage_request(team: Team, stage: str = "production", version: int = 2) -> str:
    r = team.ada.governance.create_request(
        "reg", team.model, version, "", "Serve v2 from the Production stage.", CHECKLIST,
        stage=stage, passphrase=PASS["ada"],
    )  # fmt: skip
    team.ann.governance.approve(r.request_id, "ok", PASS["ann"])
    assert team.bob.governance.approve(r.request_id, "ok", PASS["bob"]).state is (
        RequestState.APPROVED
    )
    return r.request_id


def _applied_events(team: Team) -> list[tuple[object, object]]:
    events = team.ann.audit.page(
        LedgerQuery(actions=(LedgerAction.PROMOTION_APPLIED.value,)), limit=None
    )
    return [(e.before, e.after) for e in events]


def test_stage_request_is_approved_and_applied_as_a_stage_transition(team: Team) -> None:
    r = team.ada.governance.create_request(
        "reg", team.model, 2, "", "Serve v2 from the Production stage.", CHECKLIST,
        stage="production", passphrase=PASS["ada"],
    )  # fmt: skip
    assert (r.target_kind, r.stage, r.stage_at_request, r.alias) == (
        TargetKind.STAGE,
        "Production",
        "None",
        "",
    )
    assert r.target_text == f"{team.model} v2 → stage Production"
    # What approvers sign names the stage.
    manifest = team.ann.governance.signing_manifest(r, SignatureMeaning.APPROVAL)
    assert (manifest["target_kind"], manifest["stage"]) == ("stage", "Production")
    assert "alias" not in manifest
    team.ann.governance.approve(r.request_id, "Validation report checked.", PASS["ann"])
    assert team.bob.governance.approve(r.request_id, "ok", PASS["bob"]).state is (
        RequestState.APPROVED
    )

    outcome = team.bob.promotions.apply(r.request_id, PASS["bob"])
    assert outcome.applied and not outcome.reconciled, outcome.message
    with team.client() as c:
        v2 = c.get_model_version(team.model, 2)
        aliases = c.get_registered_model(team.model).aliases
        others = [c.get_model_version(team.model, v).current_stage for v in (1, 3)]
    assert v2.current_stage == "Production"
    assert aliases == {"production": 1}  # a stage request leaves aliases alone
    assert others == ["None", "None"]  # and other versions where they were
    assert v2.tags[TAG_REQUEST] == r.request_id
    assert v2.tags[TAG_APPROVED_BY] == "ann,bob"
    approvals = team.ada.governance.request(r.request_id).approvals
    assert v2.tags[TAG_LEDGER_HASH] == approvals[-1].event_hash
    assert team.ada.governance.request(r.request_id).state is RequestState.APPLIED
    assert _applied_events(team) == [
        (
            {"stage": "None", "version": 2},
            {"stage": "Production", "version": 2, "request_id": r.request_id},
        )
    ]
    assert not team.ann.promotions.apply(r.request_id, PASS["ann"]).applied  # once only
    assert team.ann.audit.verify().ok

    # The next syncs see v2 in Production, and the ledger explains it.
    assert team.ann.sync.sync("reg").notes == ()
    team.bob.sync.sync("reg")
    assert [v for v in team.ann.observer.violations() if v.model == team.model] == []
    # Alias history is untouched by stage events.
    assert [m.after for m in team.ada.audit.alias_history("reg", team.model, "production")] == [1]


def test_interrupted_stage_apply_is_reconciled_once(team: Team) -> None:
    rid = _approved_stage_request(team)
    # What an apply killed after its registry writes leaves: our tag, the stage moved.
    with team.client() as c:
        c.set_model_version_tag(team.model, 2, TAG_REQUEST, rid)
        c.transition_model_version_stage(team.model, 2, "Production", False)
    assert [r.request_id for r in team.bob.promotions.written_not_recorded()] == [rid]
    outcome = team.bob.promotions.apply(rid, PASS["bob"])
    assert outcome.applied and outcome.reconciled
    assert team.ann.governance.request(rid).state is RequestState.APPLIED
    assert not team.bob.promotions.apply(rid, PASS["bob"]).applied
    assert len(_applied_events(team)) == 1


def test_stage_moved_behind_governance_is_a_conflict_then_a_violation(team: Team) -> None:
    rid = _approved_stage_request(team)
    with team.client() as c:
        moved = c.transition_model_version_stage(team.model, 2, "Staging", False)
    assert moved.current_stage == "Staging"

    outcome = team.bob.promotions.apply(rid, PASS["bob"])
    assert not outcome.applied
    assert outcome.request.state is RequestState.CONFLICT
    assert f"version 2 of {team.model} moved from stage None to stage Staging" in outcome.message
    with team.client() as c:
        assert c.get_model_version(team.model, 2).current_stage == "Staging"
    assert _applied_events(team) == []

    assert team.ann.sync.sync("reg").notes == ()
    found = [v for v in team.bob.observer.violations() if v.model == team.model]
    assert [(v.is_stage, v.after, v.stage_before, v.stage_after) for v in found] == [
        (True, 2, "None", "Staging")
    ]
    expected = f"Version 2 of {team.model} moved to stage Staging without an approved promotion"
    assert found[0].describe().startswith(expected + " request (registry reg; it was in no stage)")
    # Recorded once, whichever desktop syncs next.
    team.bob.sync.sync("reg")
    assert len([v for v in team.ada.observer.violations() if v.model == team.model]) == 1


def test_request_events_without_a_target_kind_still_fold_as_alias_requests() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    version = {"registry": "reg", "model": "fraud", "version": 3, "run_id": "r", "source": "s"}

    def parsed(rid: str, target: dict[str, object]) -> PromotionRequest | None:
        payload = {"version": version, **target}
        event = LedgerEvent(1, at, "rita", "request.created", f"request:{rid}", None,
                            {"request": payload}, "", "0" * 64, "h" * 64)  # fmt: skip
        return parse_request(rid, event, payload)

    old = parsed("old", {"alias": "champion", "alias_version_at_request": 2})
    stage = parsed("stage", {"target_kind": "stage", "stage": "Production"})
    assert parsed("newer", {"target_kind": "traffic-split", "split": 0.1}) is None
    assert parsed("bad", {"target_kind": "stage", "stage": "Retired"}) is None
    assert old is not None and stage is not None
    assert (old.target_kind, old.alias, old.alias_version_at_request) == (
        TargetKind.ALIAS,
        "champion",
        2,
    )
    assert old.target_text == "fraud v3 → champion"
    assert (stage.stage, stage.stage_at_request, stage.target_text) == (
        "Production",
        "None",
        "fraud v3 → stage Production",
    )


def test_cli_request_create_with_a_stage(
    tmp_path: Path, seeded_registry: MlflowRegistry, pg_database_url: str
) -> None:
    model = f"cli-stage-{uuid.uuid4().hex[:6]}"
    e2e._seed_model(seeded_registry, model)
    ada = _home(tmp_path, "ada", pg_database_url, seeded_registry)
    assert signed(ada, "ada", "roles", "grant", "ada", "requester")[0] == 0
    assert gavel(ada, "sync").returncode == 0

    code, out, err = signed(ada, "ada", "request", "create", model, "3", "--stage", "staging",
                            "--justification", "Shadow traffic first")  # fmt: skip
    assert code == 0, err
    assert f"{model} v3 → stage Staging" in out
    rid = out.split()[2].rstrip(":")
    shown = json.loads(gavel(ada, "request", "show", rid, "--json").stdout)
    assert (shown["target_kind"], shown["stage"], shown["alias"]) == ("stage", "Staging", None)
    assert "stage: Staging" in gavel(ada, "request", "show", rid).stdout

    both = gavel(ada, "request", "create", model, "3", "--stage", "Staging", "--alias", "x",
                 "--justification", "j")  # fmt: skip
    assert "not allowed with" in assert_one_line_error(both, 2)
    neither = gavel(ada, "request", "create", model, "3", "--justification", "j")
    assert "--alias" in assert_one_line_error(neither, 2)
    unknown = gavel(ada, "request", "create", model, "3", "--stage", "Retired",
                    "--justification", "j", "--passphrase-env", "PP", env=pp("ada"))  # fmt: skip
    assert "Staging, Production, Archived" in assert_one_line_error(unknown, 2)
