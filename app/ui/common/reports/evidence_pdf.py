"""Evidence packs as PDF (Qt's own writer: QTextDocument laid out on QPdfWriter's pages),
and as page images (what the console previews and tests look at).

Qt needs a GUI application for fonts; `gui_application` makes an offscreen one when
the command line runs with no display.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QMarginsF, QRectF, QSizeF, QUrl
from PySide6.QtGui import (
    QColor,
    QFont,
    QGuiApplication,
    QImage,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
    QTextDocument,
)

from app.domain.errors import GavelError
from app.services.evidence import EvidencePack
from app.services.evidence_html import render_html
from app.ui.common.reports.evidence_charts import chart_images, data_uris

PDF_DPI = 300
# A4 in points at 72 dpi: what the document is laid out on for page images.
_A4_POINTS = QSizeF(595.0, 842.0)
_MARGIN_MM = 15.0


def gui_application() -> QGuiApplication:
    """The running Qt application, or a new one (offscreen when there is no display)."""
    app = QGuiApplication.instance()
    if isinstance(app, QGuiApplication):
        return app
    headless = not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if headless and sys.platform.startswith("linux"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    return QGuiApplication([sys.argv[0] if sys.argv else "gavel"])


def evidence_html_file(pack: EvidencePack, charts: bool = True) -> str:
    """The pack as one self-contained HTML file (charts as PNG data URIs)."""
    return render_html(pack, data_uris(chart_images(pack)) if charts else {})


def evidence_document(pack: EvidencePack, charts: bool = True) -> QTextDocument:
    """The pack laid out by Qt; charts are registered as the document's image resources."""
    images = chart_images(pack) if charts else {}
    doc = QTextDocument()
    doc.setDocumentMargin(0)
    # No ligatures: 'ff' in a hash or a request id must stay two letters a reader can
    # copy out of the PDF and compare.
    font = doc.defaultFont()
    for feature in ("liga", "clig", "dlig"):
        font.setFeature(QFont.Tag(feature), 0)
    doc.setDefaultFont(font)
    sources = {}
    for name, png in images.items():
        url = f"gavel-chart://{name.replace(':', '/')}"
        image = QImage()
        image.loadFromData(png, "PNG")
        doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl(url), image)
        sources[name] = url
    doc.setHtml(render_html(pack, sources))
    doc.setMetaInformation(QTextDocument.MetaInformation.DocumentTitle, pack.title)
    return doc


def write_pdf(doc: QTextDocument, path: Path, title: str) -> int:
    """Print the document to a PDF file at ``path``; returns its page count."""
    writer = QPdfWriter(str(path))
    writer.setResolution(PDF_DPI)
    writer.setTitle(title)
    writer.setCreator("Gavel")
    writer.setPageLayout(
        QPageLayout(
            QPageSize(QPageSize.PageSizeId.A4),
            QPageLayout.Orientation.Portrait,
            QMarginsF(_MARGIN_MM, _MARGIN_MM, _MARGIN_MM, _MARGIN_MM),
            QPageLayout.Unit.Millimeter,
        )
    )
    doc.print_(writer)
    del writer  # closes the file
    if not path.is_file() or path.stat().st_size == 0:
        raise GavelError(f"Qt wrote no PDF to {path}; check the folder is writable.")
    return doc.pageCount()


def page_images(doc: QTextDocument, pages: int = 2, scale: float = 1.5) -> list[QImage]:
    """The first pages of the document as A4 images (white paper, a margin)."""
    margin = _MARGIN_MM / 25.4 * 72
    body = QSizeF(_A4_POINTS.width() - 2 * margin, _A4_POINTS.height() - 2 * margin)
    doc.setPageSize(body)
    out = []
    for page in range(min(pages, doc.pageCount())):
        image = QImage(
            int(_A4_POINTS.width() * scale),
            int(_A4_POINTS.height() * scale),
            QImage.Format.Format_RGB32,
        )
        image.fill(QColor("white"))
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.scale(scale, scale)
        painter.translate(margin, margin - page * body.height())
        doc.drawContents(painter, QRectF(0, page * body.height(), body.width(), body.height()))
        painter.end()
        out.append(image)
    return out


def write_pack(pack: EvidencePack, path: Path, charts: bool = True) -> str:
    """Write the pack to ``path`` as PDF (.pdf) or HTML (anything else); what was written,
    in words ('3 pages', 'HTML')."""
    try:
        if path.suffix.lower() == ".pdf":
            pages = write_pdf(evidence_document(pack, charts), path, pack.title)
            return f"{pages} page{'s' if pages != 1 else ''}"
        path.write_text(evidence_html_file(pack, charts), encoding="utf-8")
    except OSError as exc:
        raise GavelError(f"Could not write {path}: {exc.strerror or exc}.") from None
    return "HTML"
