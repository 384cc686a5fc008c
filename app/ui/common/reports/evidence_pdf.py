"""Evidence packs as PDF (Qt's own writer: QTextDocument laid out on QPdfWriter's pages),
and as page images (what the console previews and tests look at).

Qt needs a GUI application for fonts; `gui_application` makes an offscreen one when
the command line runs with no display.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from PySide6.QtCore import QMarginsF, QRectF, QSizeF, Qt, QUrl
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
_A4_MM = (210.0, 297.0)
_MARGIN_MM = 15.0
# Under each page's text: the document's title and 'page i of n'.
_FOOTER_MM = 8.0


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


def evidence_document(
    pack: EvidencePack, charts: bool = True, images: Mapping[str, bytes] | None = None
) -> QTextDocument:
    """The pack laid out by Qt; charts are registered as the document's image resources.

    images: the charts already drawn (name -> PNG), else they are drawn here.
    """
    if images is None:
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


def _doc_dpi() -> float:
    """The resolution a QTextDocument with no paint device lays out at (the screen's)."""
    screen = QGuiApplication.primaryScreen()
    return screen.logicalDotsPerInchY() if screen is not None else 96.0


def _paginate(doc: QTextDocument) -> tuple[QSizeF, int]:
    """Lay the document out on A4 pages (less the margins and the footer line), in its
    own units; the page body size and the page count."""
    dpi = _doc_dpi()
    width_mm = _A4_MM[0] - 2 * _MARGIN_MM
    height_mm = _A4_MM[1] - 2 * _MARGIN_MM - _FOOTER_MM
    body = QSizeF(width_mm / 25.4 * dpi, height_mm / 25.4 * dpi)
    doc.setPageSize(body)
    return body, doc.pageCount()


def write_pdf(doc: QTextDocument, path: Path, title: str) -> int:
    """Print the document to a PDF file at ``path``, each page with a footer naming the
    document and 'page i of n'; returns the page count."""
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
    body, pages = _paginate(doc)
    scale = PDF_DPI / _doc_dpi()
    painter = QPainter()
    if not painter.begin(writer):
        raise GavelError(f"Could not write {path}; check the folder is writable.")
    footer_font = QFont(doc.defaultFont())
    footer_font.setPointSizeF(7.5)
    try:
        for page in range(pages):
            if page:
                writer.newPage()
            painter.save()
            painter.scale(scale, scale)
            painter.translate(0, -page * body.height())
            doc.drawContents(painter, QRectF(0, page * body.height(), body.width(), body.height()))
            painter.restore()
            # The footer in the writer's own pixels: its font is sized for that device.
            painter.save()
            painter.setFont(footer_font)
            painter.setPen(QColor("#57606a"))
            footer = QRectF(
                0, body.height() * scale, body.width() * scale, _FOOTER_MM / 25.4 * PDF_DPI
            )
            painter.drawText(
                footer,
                int(Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignLeft),
                title,
            )
            painter.drawText(
                footer,
                int(Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignRight),
                f"page {page + 1} of {pages}",
            )
            painter.restore()
    finally:
        painter.end()
    del writer  # closes the file
    if not path.is_file() or path.stat().st_size == 0:
        raise GavelError(f"Qt wrote no PDF to {path}; check the folder is writable.")
    return pages


def page_images(doc: QTextDocument, pages: int = 2, scale: float = 1.5) -> list[QImage]:
    """The first pages of the document as A4 images, paginated as the PDF is."""
    body, count = _paginate(doc)
    dpi = _doc_dpi()
    margin = _MARGIN_MM / 25.4 * dpi
    paper = QSizeF(_A4_MM[0] / 25.4 * dpi, _A4_MM[1] / 25.4 * dpi)
    out = []
    for page in range(min(pages, count)):
        image = QImage(
            int(paper.width() * scale), int(paper.height() * scale), QImage.Format.Format_RGB32
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
