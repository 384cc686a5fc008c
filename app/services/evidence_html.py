"""An evidence pack as one HTML document: for a browser, an archive, or Qt's PDF writer.

Plain HTML 4 tables and headings (the subset QTextDocument lays out), every value
escaped (model names and comments may hold quotes and angle brackets). Charts are
images the caller supplies (`charts`: name -> image source, e.g. a PNG data URI), so
this module stays free of Qt and matplotlib; `chart_names` says which it may use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from html import escape

from app.domain.governance import Policy
from app.services.evidence import EvidencePack, RequestEvidence, Signature

COMPARISON_CHART = "comparison"
HISTORY_CHART = "history:"  # + metric key
# Charts' width in the document (CSS pixels): within an A4 page's text width.
CHART_WIDTH = 480

_STYLE = """
body { font-family: 'DejaVu Sans', Arial, sans-serif; font-size: 9pt; color: #1b1f24; }
h1 { font-size: 16pt; margin: 0 0 4px 0; }
h2 { font-size: 12pt; margin: 16px 0 4px 0; color: #0b3d6b; }
h3 { font-size: 10pt; margin: 10px 0 4px 0; }
table.grid { border-collapse: collapse; margin: 2px 0 6px 0; }
table.grid th { background: #e8eef4; text-align: left; padding: 3px 6px; }
table.grid td { padding: 3px 6px; border-bottom: 1px solid #d0d7de; vertical-align: top; }
td.k { color: #57606a; padding-right: 12px; white-space: nowrap; }
.mono { font-family: 'DejaVu Sans Mono', monospace; font-size: 8pt; }
.ok { color: #1a7f37; font-weight: bold; }
.bad { color: #cf222e; font-weight: bold; }
.muted { color: #57606a; }
pre { font-family: 'DejaVu Sans Mono', monospace; font-size: 8pt; }
"""


def chart_names(pack: EvidencePack) -> list[str]:
    """The charts the document can show: the comparison, and one history per metric
    logged at more than one step."""
    names = [COMPARISON_CHART] if pack.comparison and pack.comparison.metrics else []
    names += [HISTORY_CHART + k for k, pts in pack.metric_history.items() if len(pts) > 1]
    return names


def render_html(pack: EvidencePack, charts: Mapping[str, str] | None = None) -> str:
    """The whole pack as one HTML document (UTF-8 text)."""
    charts = charts or {}
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{escape(pack.title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(pack.title)}</h1>",
        _p(
            f"Generated {_utc(pack.generated_at)} by {pack.generated_by}, from the audit "
            f"ledger up to event {pack.checkpoint.seq if pack.checkpoint else 0} and the "
            f"registry cache as of {_utc(pack.version.synced_at)}.",
            "muted",
        ),
    ]
    parts += _summary(pack)
    if pack.problems:
        parts.append("<h2>The ledger does not verify</h2>")
        parts += [_p(p, "bad") for p in pack.problems]
    parts += _identity(pack)
    parts += _description(pack)
    parts += [
        "<h2>Lineage</h2>",
        _p("Where the version came from (←) and where it went (→), from the cache.", "muted"),
        f"<pre style='white-space: pre-wrap'>{escape(chr(10).join(pack.lineage))}</pre>",
    ]
    parts += _metrics(pack, charts)
    if pack.requests:
        for r in pack.requests:
            parts += _request(r)
    else:
        parts += ["<h2>Promotion requests</h2>", _p("No promotion request names this version.")]
    parts += _alias_history(pack)
    parts += _violations(pack)
    parts += _events(pack)
    parts.append("</body></html>")
    return "\n".join(parts)


# ----------------------------------------------------------------------- sections


def _summary(pack: EvidencePack) -> list[str]:
    v = pack.version
    rows = [("Version", f"{v.model} version {v.version} (registry {v.registry})")]
    for r in pack.requests:
        signed = [s for s in r.signatures if s.meaning in ("approved", "rejected")]
        decided = ", ".join(
            f"{s.meaning} by {s.printed_name} ({s.user_id}) at {_utc(s.at)}"
            + ("" if s.verified else " — does not count")
            for s in signed
        )
        rows.append((f"Request {r.request_id[:8]}", f"{r.target}: {r.state}"))
        rows.append(("Decisions", decided or "none yet"))
    refused = sum(1 for r in pack.requests for s in r.signatures if not s.verified)
    rows.append(
        (
            "Authority check",
            "no refused event: every signature here was accepted by the ledger's rules"
            if not pack.problems and not refused
            else f"does not verify: {len(pack.problems)} event(s) refused, see below",
        )
    )
    return ["<h2>Summary</h2>", _kv(rows)]


def _identity(pack: EvidencePack) -> list[str]:
    v = pack.version
    run = v.run
    datasets = [f"{d.name}: {d.digest}" for d in run.datasets] if run else []
    rows = [
        ("Registry", v.registry),
        ("Model", v.model),
        ("Version", str(v.version)),
        ("Run", v.run_id or "not from a tracked run"),
        ("Run name", run.run_name if run and run.run_name else "—"),
        ("Source", v.source or "—"),
        ("Created", _utc(v.created_at)),
        ("Created by", v.creator or "not recorded by the registry"),
        ("Status", v.status or "—"),
        ("Stage", v.stage or "None"),
        ("Aliases now", ", ".join(v.aliases) or "none"),
        ("Dataset digests", "; ".join(datasets) or "none logged"),
    ]
    rows += [(f"Evidence digest ({r.request_id[:8]})", r.evidence_digest) for r in pack.requests]
    return ["<h2>Identity</h2>", _kv(rows)]


def _description(pack: EvidencePack) -> list[str]:
    v = pack.version
    return [
        "<h2>Description and tags</h2>",
        _p(v.model_description or "The model has no description in the registry."),
        "<h3>Model tags</h3>",
        _kv(sorted(v.model_tags.items())) if v.model_tags else _p("none", "muted"),
        "<h3>Version tags</h3>",
        _kv(sorted(v.version_tags.items())) if v.version_tags else _p("none", "muted"),
    ]


def _metrics(pack: EvidencePack, charts: Mapping[str, str]) -> list[str]:
    out = ["<h2>Metrics</h2>"]
    run = pack.version.run
    if run is None or not run.metrics:
        out.append(_p("No metrics are cached for this version's run.", "muted"))
    else:
        out.append(
            _grid(
                ("Metric", "Last value", "Step"),
                [(k, _num(m.value), str(m.step)) for k, m in run.metrics.items()],
            )
        )
    c = pack.comparison
    if c is None:
        out.append(_p("There is no earlier version to compare with.", "muted"))
        return out + _charts(pack, charts, histories_only=True)
    out.append(f"<h3>Compared with version {c.version_a}, the version it replaces</h3>")
    out.append(
        _grid(
            ("Metric", f"v{c.version_a}", f"v{c.version_b}", "Change"),
            [
                (
                    m.key,
                    _num(m.a),
                    _num(m.b),
                    "—"
                    if m.delta is None
                    else f"{m.delta:+.4g}"
                    + {True: " (better)", False: " (worse)", None: ""}[m.improved],
                )
                for m in c.metrics
            ],
        )
    )
    if c.params:
        out.append(
            _grid(
                ("Parameter that differs", f"v{c.version_a}", f"v{c.version_b}"),
                [(p.key, p.a or "—", p.b or "—") for p in c.params],
            )
        )
    changed = c.datasets_differ
    out.append(
        _p(
            "Datasets: "
            + (
                "; ".join(f"{d.name} ({d.context or 'input'}): {d.change.value}" for d in changed)
                if changed
                else "the same dataset digests as the replaced version."
            )
        )
    )
    out += [_p(n, "muted") for n in c.notes]
    return out + _charts(pack, charts, histories_only=False)


def _charts(pack: EvidencePack, charts: Mapping[str, str], histories_only: bool) -> list[str]:
    out = []
    for name in chart_names(pack):
        if name not in charts or (histories_only and name == COMPARISON_CHART):
            continue
        caption = (
            "Metrics of this version and of the version it replaces"
            if name == COMPARISON_CHART
            else f"History of {name.removeprefix(HISTORY_CHART)} over the run's steps"
        )
        out.append(
            f"<p><img src='{escape(charts[name])}' width='{CHART_WIDTH}'><br>"
            f"<span class='muted'>{escape(caption)}</span></p>"
        )
    return out


def _request(r: RequestEvidence) -> list[str]:
    tier = r.tier.capitalize()
    if r.tier != (r.requested_tier or "high"):
        tier += f" (requested as {r.requested_tier or 'not set'})"
    was = r.alias_version_at_request
    rows = [
        ("Request", r.request_id),
        ("Target", r.target + (f" (held v{was} when requested)" if was is not None else "")),
        ("State", f"{r.state}" + (f" — {r.state_reason}" if r.state_reason else "")),
        ("Requested by", f"{r.requester_name} ({r.requester}) at {_utc(r.created_at)}"),
        ("Justification", r.justification),
        ("Request record", f"SHA-256 {r.created_hash}"),
        ("Risk tier", tier),
        ("Policy", policy_sentence(r.policy)),
        ("Policy status", r.policy_status),
    ]
    if r.blocked:
        rows.append(("Cannot be applied", r.blocked))
    rows += [("Note", n) for n in r.notes]
    recorded = ", ".join(f"{k} = {_num(v)}" for k, v in sorted(r.recorded_metrics.items()))
    rows.append(("Metrics approved on", recorded or "none recorded"))
    checklist = _grid(
        ("Checklist item", "Required", "Reference"),
        [(c.label, "yes" if c.required else "no", c.reference or "not given") for c in r.checklist],
    )
    return [
        f"<h2>Promotion request {escape(r.request_id[:8])}: {escape(r.target)}</h2>",
        _kv(rows),
        "<h3>Policy checklist</h3>",
        checklist,
        "<h3>Signatures (21 CFR 11.50 manifestation)</h3>",
        _signatures(r.signatures),
    ]


def policy_sentence(p: Policy) -> str:
    """What a tier's policy asks, in one sentence."""
    n = p.approvals_required
    need = f"{n} approval{'s' if n != 1 else ''} from {'distinct ' if n > 1 else 'an '}"
    need += p.required_role.value + ("s" if n > 1 else "")
    items = ", ".join(p.required_checklist) or "none"
    thresholds = ", ".join(str(t) for t in p.metric_thresholds) or "none"
    expiry = f"; expires after {p.request_expiry_days} days" if p.request_expiry_days else ""
    return f"{need}; checklist required: {items}; metric thresholds: {thresholds}{expiry}."


def _signatures(signatures: Sequence[Signature]) -> str:
    """One block per signed act: the manifestation a reader checks, then the key and
    what the ledger's rules said of the signature."""
    if not signatures:
        return _p("No signed act.")
    blocks = []
    for s in signatures:
        verdict_cls = "ok" if s.verified else "bad"
        head = f"Event {s.seq}: {s.meaning} by {s.printed_name}"
        why = (
            f"<span class='muted'> — checks against this key, enrolled for {escape(s.user_id)}"
            " and approved by an admin; the signer held the authority then</span>"
            if s.verified
            else ""
        )
        rows = [
            ("Printed name", escape(s.printed_name)),
            ("User id", escape(s.user_id)),
            ("Time (UTC)", escape(_utc(s.at))),
            ("Meaning", escape(s.meaning)),
            ("Signing key", f"<span class='mono'>{escape(s.key_id or '—')}</span>"),
            ("Signature", f"<span class='{verdict_cls}'>{escape(s.verification)}</span>" + why),
            ("Event hash", f"<span class='mono'>{escape(s.event_hash)}</span>"),
            ("Comment", escape(s.comment) or "—"),
        ]
        body = "".join(f"<tr><td class='k'>{escape(k)}</td><td>{v}</td></tr>" for k, v in rows)
        blocks.append(
            f"<table class='grid' cellspacing='0' width='100%'><tr><th colspan='2'>"
            f"{escape(head)}</th></tr>{body}</table>"
        )
    return "".join(blocks)


def _alias_history(pack: EvidencePack) -> list[str]:
    out = ["<h2>Alias history</h2>"]
    if not pack.alias_history:
        return [*out, _p("The ledger records no alias move that concerns this version.")]
    rows = [
        (
            str(m.seq),
            _utc(m.at),
            m.alias,
            _v(m.before),
            _v(m.after),
            m.actor,
            m.action,
        )
        for m in pack.alias_history
    ]
    return [*out, _grid(("Event", "Time (UTC)", "Alias", "From", "To", "By", "Recorded as"), rows)]


def _violations(pack: EvidencePack) -> list[str]:
    out = ["<h2>Violations and serving drift</h2>"]
    if not pack.violations and not pack.drift:
        return [*out, _p("None recorded: every alias move was explained by an applied request.")]
    out += [_p(f"Event {v.seq}, {_utc(v.at)}: {v.describe()}", "bad") for v in pack.violations]
    for d in pack.drift:
        out.append(_p(f"Event {d.seq}, {_utc(d.at)}: {d.action} ({d.subject})"))
    return out


def _events(pack: EvidencePack) -> list[str]:
    rows = [
        (str(e.seq), _utc(e.at), e.actor, e.action, e.hash, e.signer or "—") for e in pack.events
    ]
    cp = pack.checkpoint
    return [
        "<h2>Ledger events this pack rests on</h2>",
        _grid(("Seq", "Time (UTC)", "Actor", "Action", "SHA-256", "Signed by key"), rows, mono=4),
        "<h3>Checkpoint to verify against</h3>",
        _kv(
            [
                ("Ledger head", f"event {cp.seq}" if cp else "the ledger is empty"),
                ("Head hash", cp.hash if cp else "—"),
                ("Checkpoint", str(cp) if cp else "—"),
            ]
        ),
        _p(pack.verify_how),
    ]


# ------------------------------------------------------------------------ helpers


def _utc(when: datetime | None) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if when else "not recorded"


def _num(x: float | None) -> str:
    return "—" if x is None else f"{x:.6g}"


def _v(version: int | None) -> str:
    return "nothing" if version is None else f"v{version}"


def _p(text: str, cls: str = "") -> str:
    attr = f" class='{cls}'" if cls else ""
    return f"<p{attr}>{escape(text)}</p>"


def _kv(rows: Iterable[tuple[str, str]]) -> str:
    body = "".join(f"<tr><td class='k'>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in rows)
    return f"<table class='grid' cellspacing='0'>{body}</table>"


def _grid(header: Sequence[str], rows: Iterable[Sequence[str]], mono: int | None = None) -> str:
    body = "".join(
        "<tr>"
        + "".join(
            ("<td class='mono'>" if i == mono else "<td>") + f"{escape(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return _table(header, body)


def _table(header: Sequence[str], body: str) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    return f"<table class='grid' cellspacing='0'><tr>{head}</tr>{body}</table>"
