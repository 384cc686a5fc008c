"""`gavel report promotions --from --to`: every promotion applied, rejection signed and
violation recorded in a period, from a real MLflow registry and a shared ledger."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.connectors.mlflow_registry import MlflowRegistryClient
from app.services.mlflow_process import MlflowServerProcess
from app.stores.engine import sqlite_url
from tests.evidence_data import CHECKLIST, promote
from tests.fixtures.desks import DeskFactory
from tests.fixtures.mlflow import MlflowRegistry
from tests.test_cli import assert_one_line_error, gavel

pytestmark = pytest.mark.integration


@pytest.fixture
def shared_ledger_url(tmp_path: Path) -> Iterator[str]:
    yield sqlite_url(tmp_path / "team-ledger.sqlite3")


def test_report_lists_promotions_rejections_and_violations_in_the_period(
    desks: DeskFactory, mlflow_server: MlflowServerProcess
) -> None:
    registry = MlflowRegistry(mlflow_server)
    p = promote(desks, registry, forge=False)
    ada, ann = p.ada, p.ann
    r = ada.ctx.governance.create_request(
        "reg", p.model, 1, "champion", "Keep v1 as champion.", CHECKLIST,
        passphrase=ada.passphrase,
    )  # fmt: skip
    ann.ctx.governance.reject(r.request_id, "v1 is retired: no <champion>.", ann.passphrase)
    with MlflowRegistryClient(registry.config(), None) as c:
        c.set_registered_model_alias(p.model, "production", 1)  # behind governance's back
    ada.ctx.sync.sync("reg")

    today = datetime.now(UTC).date()
    proc = gavel(ada.home, "report", "promotions", "--from", str(today), "--to", str(today),
                 "--json", env=ada.env())  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    mine = [e for e in report["entries"] if e["model"] == p.model]
    assert [(e["kind"], e["version"], e["target"]) for e in mine] == [
        ("promotion", 2, "alias production"),
        ("rejection", 1, "alias champion"),
        ("violation", 1, "alias production"),
    ]
    promotion, rejection, violation = mine
    assert promotion["request_id"] == p.request_id and promotion["by"] == "ada"
    assert "approved by ann" in promotion["detail"]
    assert rejection["by"] == "ann" and rejection["detail"] == "v1 is retired: no <champion>."
    assert "moved from v2 to v1 without an approved promotion request" in violation["detail"]
    assert report["counts"]["promotion"] >= 1 and report["from"] == str(today)

    text = gavel(ada.home, "report", "promotions", "--from", str(today), "--to", str(today),
                 env=ada.env())  # fmt: skip
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith(f"{today} to {today} (UTC): ")
    for heading in ("Promotions applied", "Rejections", "Violations"):
        assert f"\n{heading}\n" in text.stdout
    assert p.request_id in text.stdout

    # A period before any of it holds nothing.
    before = str(today - timedelta(days=30))
    empty = gavel(ada.home, "report", "promotions", "--from", before, "--to", before,
                  "--json", env=ada.env())  # fmt: skip
    assert json.loads(empty.stdout)["entries"] == []

    for args, sentence in (
        (("--from", "yesterday", "--to", str(today)), "--from takes a day as YYYY-MM-DD"),
        (("--from", str(today), "--to", before), "swap --from and --to"),
    ):
        proc = gavel(ada.home, "report", "promotions", *args, env=ada.env())
        assert sentence in assert_one_line_error(proc, 2)
