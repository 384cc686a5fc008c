"""Evidence pack benchmark. One command: `.venv/bin/python -m bench.bench_evidence`.

A real MLflow server (from .venv-mlflow) holds a model with three versions whose runs
log 4 metrics over 300 steps each and a dataset; two profiles share one SQLite ledger
with --filler unrelated observations (other models' alias moves) before the record:
a request for v2 → production, signed, approved by the other person, applied. Then,
median of --runs:

  facts: services.evidence (the fold, the cache, lineage, alias history, violations,
    the request's ledger events and the head checkpoint);
  charts: the comparison and the metric histories, matplotlib Agg → PNG;
  PDF: QTextDocument laid out and printed by QPdfWriter (A4, 300 dpi);
  pack: facts + charts + PDF, what `gavel evidence pack ID --out F.pdf` and the
    console's button do: target <= 2 s;
  HTML: facts + charts + the self-contained HTML file.

Baseline: what an officer already runs to see one request, `gavel request show ID`
(the request's view from the fold and its ledger events, in process): the ratio says
how much more the whole pack costs than reading the request alone.

Runs offscreen (QT_QPA_PLATFORM=offscreen unless set). Not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from keyrings.alt.file import PlaintextKeyring

from app.bootstrap import AppContext, build_context
from app.connectors.credentials import CredentialStore
from app.connectors.mlflow_registry import MlflowRegistryClient
from app.domain.entities import DatasetInput, MetricPoint
from app.domain.governance import Role
from app.domain.ledger import JsonValue, LedgerAction
from app.domain.ledger_query import model_subject
from app.domain.registry import RegistryConfig
from app.services.mlflow_process import MlflowServerProcess
from app.stores.engine import sqlite_url
from app.stores.paths import resolve_paths
from app.stores.profile_file import Profile, ProfileFile
from app.ui.common.reports.evidence_charts import chart_images
from app.ui.common.reports.evidence_pdf import (
    evidence_document,
    evidence_html_file,
    gui_application,
    write_pdf,
)

TARGET_S = 2.0
MODEL = "credit-scoring"
METRICS = ("auc", "recall", "precision", "log_loss")
CHECKLIST = {"validation_report": "VR-1", "rollback_plan": "move production back to v1"}


def _seed(url: str, steps: int) -> None:
    with MlflowRegistryClient(RegistryConfig(name="bench", url=url), None) as c:
        exp = c.create_experiment("bench-evidence")
        c.create_registered_model(MODEL, "Scores credit applications.", {"risk_tier": "medium"})
        for v in (1, 2, 3):
            run = c.create_run(exp, f"train-{v}", user_id="carl.ml", start_time=1, tags={})
            points = [
                MetricPoint(k, 0.5 + v / 50 + s / (steps * 10), s, 1000 + s)
                for k in METRICS
                for s in range(steps)
            ]
            for i in range(0, len(points), 900):  # MLflow takes 1,000 metrics a batch
                c.log_batch(run, {"depth": str(v)} if i == 0 else {}, points[i : i + 900], {})
            c.log_inputs(run, [DatasetInput("loans", f"dg{v}", "local", "s3://b", "training")])
            c.update_run(run, "FINISHED", 2)
            c.create_model_version(MODEL, source=f"runs:/{run}/model", run_id=run)
        c.set_registered_model_alias(MODEL, "production", 1)


def _profile(home: Path, ledger: str, url: str) -> AppContext:
    paths = resolve_paths({"GAVEL_HOME": str(home)})
    paths.ensure()
    ProfileFile(paths.profile_file).save(Profile(team_ledger_url=ledger))
    backend = PlaintextKeyring()
    backend.file_path = str(home / "keyring.cfg")
    ctx = build_context(paths, credentials=CredentialStore(backend))
    ctx.registries.add(RegistryConfig(name="bench", url=url))
    return ctx


def _median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--filler", type=int, default=2000, help="unrelated ledger events")
    args = p.parse_args(argv)
    app = gui_application()
    with tempfile.TemporaryDirectory(prefix="gavel-bench-evidence-") as tmp_name:
        tmp = Path(tmp_name)
        server = MlflowServerProcess(tmp / "mlflow").start()
        ctxs: list[AppContext] = []
        try:
            _seed(server.url, args.steps)
            ledger = sqlite_url(tmp / "ledger.sqlite3")
            ada = _profile(tmp / "ada", ledger, server.url)
            ctxs.append(ada)
            ada.membership.init_identity("ada", "Ada Lima", ("ada.ml",), "ada-passphrase")
            for i in range(args.filler):
                subject = model_subject("bench", f"other-{i % 50}")
                after: JsonValue = {"alias": "production", "version": i}
                ada.audit.record("gavel-sync", LedgerAction.ALIAS_OBSERVED, subject, after=after)
            ann = _profile(tmp / "ann", ledger, server.url)
            ctxs.append(ann)
            ann.membership.init_identity("ann", "Ann Reyes", ("ann.ml",), "ann-passphrase")
            ada.membership.approve_key("ann", "ada-passphrase")
            ada.membership.grant("ada", Role.REQUESTER, "ada-passphrase")
            ada.membership.grant("ann", Role.APPROVER, "ada-passphrase")
            for ctx in ctxs:
                ctx.sync.sync("bench")
            r = ada.governance.create_request(
                "bench",
                MODEL,
                2,
                "production",
                "Better recall.",
                CHECKLIST,
                passphrase="ada-passphrase",
            )
            ann.governance.approve(r.request_id, "Checked VR-1.", "ann-passphrase")
            assert ann.promotions.apply(r.request_id, "ann-passphrase").applied
            ada.sync.sync("bench")
            rid = r.request_id
            evidence, governance = ada.evidence, ada.governance
            pack = evidence.for_request(rid)
            pdf = tmp / "pack.pdf"

            def show() -> None:
                view = governance.view_of(rid)
                governance.events_of(view.request)

            def whole_pdf() -> None:
                write_pdf(evidence_document(evidence.for_request(rid)), pdf, "bench")

            def whole_html() -> None:
                (tmp / "pack.html").write_text(evidence_html_file(evidence.for_request(rid)))

            whole_pdf()  # first use: fonts, matplotlib's caches
            show_ms = _median_ms(show, args.runs)
            facts_ms = _median_ms(lambda: evidence.for_request(rid), args.runs)
            charts_ms = _median_ms(lambda: chart_images(pack), args.runs)
            images = chart_images(pack)
            doc_ms = _median_ms(
                lambda: write_pdf(evidence_document(pack, images=images), pdf, "b"), args.runs
            )
            pack_ms = _median_ms(whole_pdf, args.runs)
            html_ms = _median_ms(whole_html, args.runs)
            pages = write_pdf(evidence_document(pack, images=images), pdf, "b")
            size_kb = pdf.stat().st_size / 1024
            events = ada.audit.store.head()
        finally:
            for ctx in ctxs:
                ctx.close()
            server.stop()
    del app
    print(
        f"evidence pack of one applied request: ledger of {events.seq if events else 0:,} "
        f"events, {len(pack.events)} in the pack, {len(METRICS)} metrics x {args.steps} "
        f"steps, {len(pack.metric_history)} history charts + comparison; PDF {pages} pages, "
        f"{size_kb:.0f} KiB"
    )
    print(f"  facts (services.evidence)                 {facts_ms:>8.1f} ms")
    print(f"  charts (matplotlib Agg -> PNG)            {charts_ms:>8.1f} ms")
    print(f"  PDF: layout + print, charts drawn already {doc_ms:>8.1f} ms")
    verdict = "met" if pack_ms / 1000 <= TARGET_S else "NOT met"
    print(
        f"  pack as PDF, end to end (median of {args.runs})  {pack_ms:>8.1f} ms   "
        f"target <= {TARGET_S:.0f} s: {verdict}"
    )
    print(f"  pack as HTML, end to end                  {html_ms:>8.1f} ms")
    print(
        f"  baseline 'gavel request show' (view + events) {show_ms:>6.1f} ms: the pack costs "
        f"{pack_ms / show_ms:.0f} x reading the request alone"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
