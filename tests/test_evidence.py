"""Evidence packs on a real MLflow registry and a ledger two desks share: the facts in
the HTML and in the PDF Qt writes (read back with pypdf), the signature manifestation
as the fold judged it, the command line's sentences."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader

from app.services.evidence_html import render_html
from app.stores.engine import sqlite_url
from tests.evidence_data import JUSTIFICATION, Promotion, promote
from tests.fixtures.desks import DeskFactory
from tests.fixtures.mlflow import MlflowRegistry
from tests.test_cli import ROOT, assert_one_line_error, gavel

pytestmark = pytest.mark.integration
SCREENSHOTS = ROOT / "artifacts" / "screenshots"


@pytest.fixture
def shared_ledger_url(tmp_path: Path) -> Iterator[str]:
    """A SQLite ledger shared by the desks (the pack reads the ledger; which database
    holds it is the ledger tests' matter)."""
    yield sqlite_url(tmp_path / "team-ledger.sqlite3")


@pytest.fixture
def promotion(desks: DeskFactory, mlflow_server: object) -> Promotion:
    from app.services.mlflow_process import MlflowServerProcess

    assert isinstance(mlflow_server, MlflowServerProcess)
    return promote(desks, MlflowRegistry(mlflow_server))


def _text(html: str) -> str:
    """The document's words: tags dropped, entities kept (they are what a reader sees)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_request_pack_states_identity_signatures_and_the_ledger_it_rests_on(
    promotion: Promotion,
) -> None:
    ctx = promotion.ada.ctx
    pack = ctx.evidence.for_request(promotion.request_id[:10])
    request = ctx.governance.request(promotion.request_id)
    assert pack.kind == "request" and pack.version.version == 2
    assert pack.replaced_version == 1
    assert pack.comparison is not None and {m.key for m in pack.comparison.metrics} == {
        "auc",
        "recall",
    }
    assert len(pack.metric_history["auc"]) == 3

    (r,) = pack.requests
    by_meaning = {s.meaning: s for s in r.signatures if s.verified}
    approval = by_meaning["approved"]
    assert approval.seq == request.approvals[0].seq
    assert (approval.printed_name, approval.user_id) == ("Ann", "ann")
    assert approval.key_id == ctx.membership.identities()["ann"].key_id
    assert approval.verification == "verified"
    assert approval.event_hash == request.approvals[0].event_hash
    assert by_meaning["requested"].user_id == "ada" and by_meaning["applied"].verified
    # The forged approval claims ann's key and name: the fold refused it, and so does the pack.
    assert promotion.forged is not None
    forged = next(s for s in r.signatures if s.seq == promotion.forged.seq)
    assert not forged.verified
    assert forged.verification.startswith("refused by the ledger's rules")
    assert "signature does not verify" in forged.verification
    assert promotion.forged is not None
    assert pack.problems and f"Event {promotion.forged.seq}" in pack.problems[0]

    moves = [(m.alias, m.before, m.after) for m in pack.alias_history]
    assert ("production", 1, 2) in moves
    seqs = [e.seq for e in pack.events]
    assert request.created_seq in seqs and promotion.forged.seq in seqs
    head = ctx.audit.store.head()
    assert pack.checkpoint == head and head is not None

    html = render_html(pack)
    text = _text(html)
    for fact in (
        "reg",
        request.identity.run_id,
        request.created_hash,
        approval.event_hash,
        approval.key_id,
        "Ann",
        "approved",
        approval.at.strftime("%Y-%m-%d %H:%M:%S UTC"),
        f"{head.seq}:{head.hash}",
        "python tools/verify_ledger.py",
        "VR-2026-114",
        "d1g2st",
    ):
        assert fact in text, fact
    # Names, descriptions and comments are text, never markup.
    assert "<script>" not in html and "&lt;script&gt;alert(&quot;x&quot;)" in html
    assert JUSTIFICATION not in html
    escaped_model = promotion.model.replace("&", "&amp;").replace('"', "&quot;")
    escaped_model = escaped_model.replace("<", "&lt;").replace(">", "&gt;")
    assert escaped_model in html and promotion.model not in html
    assert "&lt;credit&gt;" in html


def test_version_pack_lists_every_request_and_a_violation(
    promotion: Promotion, mlflow_server: object
) -> None:
    from app.connectors.mlflow_registry import MlflowRegistryClient
    from app.services.mlflow_process import MlflowServerProcess

    assert isinstance(mlflow_server, MlflowServerProcess)
    registry = MlflowRegistry(mlflow_server)
    # Behind governance's back: production moves to v1 and back to v2.
    with MlflowRegistryClient(registry.config(), None) as c:
        c.set_registered_model_alias(promotion.model, "production", 1)
    promotion.ann.ctx.sync.sync("reg")
    with MlflowRegistryClient(registry.config(), None) as c:
        c.set_registered_model_alias(promotion.model, "production", 2)
    promotion.ann.ctx.sync.sync("reg")

    pack = promotion.ann.ctx.evidence.for_version(promotion.model, 2, "reg")
    assert pack.kind == "version"
    assert [r.request_id for r in pack.requests] == [promotion.request_id]
    assert [(v.before, v.after) for v in pack.violations] == [(2, 1), (1, 2)]
    text = _text(render_html(pack))
    assert "moved from v2 to v1 without an approved promotion request" in text

    # v1 was never requested: its pack says so.
    text = _text(render_html(promotion.ann.ctx.evidence.for_version(promotion.model, 1)))
    assert "No promotion request names this version." in text
    assert "There is no earlier version to compare with." in text


def test_cli_writes_a_pdf_headless_whose_text_states_the_facts(
    promotion: Promotion, tmp_path: Path, qapp: object
) -> None:
    from PySide6.QtGui import QImage

    out = tmp_path / "pack.pdf"
    env = {k: v for k, v in promotion.ada.env().items() if k not in ("QT_QPA_PLATFORM", "DISPLAY")}
    proc = gavel(promotion.ada.home, "evidence", "pack", promotion.request_id, "--out", str(out),
                 env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"Wrote {out} (") and "ledger checkpoint" in proc.stdout

    reader = PdfReader(out)
    assert len(reader.pages) >= 2
    assert f"({len(reader.pages)} pages)" in proc.stdout
    assert reader.metadata is not None and promotion.request_id in (reader.metadata.title or "")
    text = " ".join(page.extract_text() for page in reader.pages)
    flat = re.sub(r"\s+", " ", text)
    ctx = promotion.ada.ctx
    request = ctx.governance.request(promotion.request_id)
    approval = request.approvals[0]
    head = ctx.audit.store.head()
    assert head is not None
    for fact in (
        promotion.model,
        "Ann",
        approval.at.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "verified",
        "refused by the ledger's rules",
        "VR-2026-114",
        '<script>alert("x")</script>',
    ):
        assert fact in flat, fact
    # Hashes may wrap inside a table cell: compare without spaces.
    squeezed = re.sub(r"\s+", "", text)
    for digest in (request.created_hash, approval.event_hash, head.hash, approval.signer or "?"):
        assert digest in squeezed, digest
    # The charts are in it: images on the metrics page.
    assert sum(len(page.images) for page in reader.pages) >= 2

    # What a reader sees: the first two pages, rendered from the same document.
    # (qapp: the session's QApplication, which the page rendering needs.)
    from app.ui.common.reports.evidence_pdf import evidence_document, page_images

    doc = evidence_document(ctx.evidence.for_request(promotion.request_id))
    pages = page_images(doc, pages=4)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(pages, 1):
        assert isinstance(image, QImage) and not image.isNull()
        assert image.save(str(SCREENSHOTS / f"evidence_pack_page{i}.png"))
    assert len(pages) == 4


def test_cli_version_pack_html_and_bad_input(promotion: Promotion, tmp_path: Path) -> None:
    desk = promotion.ada
    out = tmp_path / "v2.html"
    proc = gavel(desk.home, "evidence", "pack", promotion.model, "2", "--out", str(out),
                 env=desk.env())  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    html = out.read_text(encoding="utf-8")
    assert "data:image/png;base64," in html  # charts travel inside the file
    assert "Ann" in html and promotion.request_id in html

    cases = [
        (("nope", "--out", str(tmp_path / "x.pdf")), "There is no promotion request 'nope'."),
        ((promotion.model, "two", "--out", str(out)), "'two' is not a version number."),
        ((promotion.request_id, "--out", str(tmp_path / "x.txt")), "must name a .pdf or .html"),
        ((promotion.request_id, "--out", str(tmp_path / "no" / "x.pdf")), "does not exist"),
        ((promotion.model, "9", "--out", str(out)), "is not in the cache; sync 'reg' first."),
    ]
    for args, sentence in cases:
        line = assert_one_line_error(gavel(desk.home, "evidence", "pack", *args, env=desk.env()), 2)
        assert sentence in line, line
