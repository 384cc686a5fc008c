"""A one-page PDF of the overview for a management meeting: every figure by section,
the models per registry and team, and when it was read. Drawn by Qt from the overview
already on screen (no query), so it is what the page shows."""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import QMarginsF, QSizeF
from PySide6.QtGui import QPageLayout, QPageSize, QPainter, QPdfWriter, QTextDocument

from app.domain.errors import GavelError
from app.domain.overview import Overview


def overview_html(o: Overview) -> str:
    when = "—" if o.as_of is None else o.as_of.astimezone().strftime("%Y-%m-%d %H:%M %Z")
    parts = [
        "<h2>Gavel — model portfolio overview</h2>",
        f"<p style='color:#555'>As of {escape(when)}, from this computer's cache and audit "
        "ledger. Highlighted figures need someone to act.</p>",
    ]
    for section, figures in o.sections():
        parts.append(f"<h4>{escape(section)}</h4><table cellspacing='0' cellpadding='3'>")
        for f in figures:
            style = " style='background:#fef3c7'" if f.alarm else ""
            detail = f"<br><small>{escape(f.detail)}</small>" if f.detail else ""
            parts.append(
                f"<tr{style}><td align='right' width='70'><b>{f.value:,}</b></td>"
                f"<td>{escape(f.label)}{detail}</td></tr>"
            )
        parts.append("</table>")
    if o.teams:
        parts.append(
            "<h4>By registry and team</h4><table cellspacing='0' cellpadding='3' border='1'>"
            "<tr><th>Registry</th><th>Team</th><th>Models</th><th>In production by alias</th>"
            "<th>In production by stage</th></tr>"
        )
        for t in o.teams:
            parts.append(
                f"<tr><td>{escape(t.registry)}</td><td>{escape(t.team)}</td>"
                f"<td align='right'>{t.models:,}</td><td align='right'>{t.by_alias:,}</td>"
                f"<td align='right'>{t.by_stage:,}</td></tr>"
            )
        parts.append("</table>")
    return "".join(parts)


def write_overview_pdf(o: Overview, path: Path) -> Path:
    """Draw the overview on one A4 page (scaled down when it would not fit)."""
    writer = QPdfWriter(str(path))
    writer.setPageLayout(
        QPageLayout(
            QPageSize(QPageSize.PageSizeId.A4),
            QPageLayout.Orientation.Portrait,
            QMarginsF(12, 12, 12, 12),
            QPageLayout.Unit.Millimeter,
        )
    )
    writer.setTitle("Gavel — model portfolio overview")
    doc = QTextDocument()
    doc.setHtml(overview_html(o))
    page = writer.pageLayout().paintRectPixels(writer.resolution())
    doc.setPageSize(QSizeF(page.width(), page.height()))
    painter = QPainter()
    if not painter.begin(writer):
        raise GavelError(f"Could not write {path}: choose a folder you can write to.")
    try:
        # Lay the text out at a readable width, then scale the whole to the page.
        doc.setTextWidth(720)
        size = doc.size()
        scale = min(page.width() / size.width(), page.height() / max(size.height(), 1.0))
        painter.scale(scale, scale)
        doc.drawContents(painter)
    finally:
        painter.end()
    return path
