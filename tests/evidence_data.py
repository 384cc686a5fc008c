"""A promotion with a full record, for evidence-pack tests: a real MLflow model (a name
with quotes, angle brackets and an ampersand), two versions with metric histories and
dataset digests, a request signed, approved and applied on two desks sharing a ledger,
and an approval forged under the approver's key id that the fold refuses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from app.connectors.mlflow_registry import MlflowRegistryClient
from app.domain.entities import DatasetInput, MetricPoint
from app.domain.governance import Role, request_subject
from app.domain.ledger import LedgerAction, LedgerEvent
from app.stores.migrate import open_ledger_database
from tests.fixtures.desks import Desk, DeskFactory, enrol
from tests.fixtures.mlflow import MlflowRegistry
from tests.ledger_forgery import RandomSignature, append

CHECKLIST = {
    "validation_report": "VR-2026-114",
    "metrics_reviewed": "AUC & recall at 1% FPR",
    "rollback_plan": "move 'production' back to v1",
}
JUSTIFICATION = 'Better recall on Q3 data; <script>alert("x")</script> stays text.'


@dataclass
class Promotion:
    ada: Desk  # admin, requester
    ann: Desk  # approver, applied it
    model: str
    request_id: str
    forged: LedgerEvent | None


def seed_model(registry: MlflowRegistry, name: str) -> None:
    """Two versions of `name`, v1 in production; v2's run logs auc over 3 steps."""
    with MlflowRegistryClient(registry.config(), None) as c:
        exp = c.create_experiment(f"exp-{uuid.uuid4().hex[:8]}")
        c.create_registered_model(
            name,
            description='Scores <credit> applications & flags "thin files".',
            tags={"risk_tier": "medium", "owner": "carl"},
        )
        for v in (1, 2):
            run = c.create_run(exp, f"train-{v}", user_id="carl.ml", start_time=1, tags={})
            history = [MetricPoint("auc", 0.80 + v / 100 + s / 200, s, 1000 + s) for s in range(3)]
            recall = MetricPoint("recall", 0.60 + v / 20, 0, 1000)
            c.log_batch(run, {"depth": str(3 + v)}, [*history, recall], {})
            c.log_inputs(
                run, [DatasetInput("loans-q3", f"d1g{v}st", "local", "s3://x", "training")]
            )
            c.update_run(run, "FINISHED", 2)
            c.create_model_version(name, source=f"runs:/{run}/model", run_id=run)
        c.set_registered_model_alias(name, "production", 1)


def promote(desks: DeskFactory, registry: MlflowRegistry, forge: bool = True) -> Promotion:
    # Not "credit": the MLflow server is shared by the session, and other tests filter
    # the portfolio by that word.
    model = f'loan "scoring" <{uuid.uuid4().hex[:6]}> & co'
    seed_model(registry, model)
    ada, ann = desks("ada"), desks("ann")
    enrol(ada, ada, Role.REQUESTER)
    enrol(ada, ann, Role.APPROVER)
    for desk in (ada, ann):
        desk.ctx.registries.add(registry.config("reg"))
        desk.ctx.sync.sync("reg")
    r = ada.ctx.governance.create_request(
        "reg", model, 2, "production", JUSTIFICATION, CHECKLIST, passphrase=ada.passphrase
    )
    ann.ctx.governance.approve(r.request_id, "Checked VR-2026-114 <ok>.", ann.passphrase)
    assert ann.ctx.promotions.apply(r.request_id, ann.passphrase).applied
    forged = _forge_approval(ada, r.request_id) if forge else None
    for desk in (ada, ann):
        desk.ctx.sync.sync("reg")
    return Promotion(ada, ann, model, r.request_id, forged)


def _forge_approval(ada: Desk, request_id: str) -> LedgerEvent:
    # Someone with the database's credentials appends a second "approval by ann"
    # under her key id with random bytes: it claims her name, and counts for nothing.
    db = open_ledger_database(ada.ledger_url)
    try:
        key_id = ada.ctx.membership.identities()["ann"].key_id
        assert key_id is not None
        forged = append(
            db,
            "ann",
            LedgerAction.REQUEST_APPROVED,
            request_subject(request_id),
            after={"manifestation": {"printed_name": "Ann", "user_id": "ann"}},
            reason="forged approval",
            signer=RandomSignature(key_id),
        )
    finally:
        db.dispose()
    return forged
