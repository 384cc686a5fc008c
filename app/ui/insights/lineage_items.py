"""The boxes and arrows of the lineage graph, as QGraphicsItems.

Positions come from app.domain.lineage_layout; this module only paints: a rounded
box per node, coloured by kind (with the kind written in small capitals, so the
colour is never the only cue), and an arrow per edge, curved in the gaps between
columns and straight across them.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsObject,
    QGraphicsPathItem,
    QGraphicsSceneHoverEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

from app.domain.lineage import (
    KIND_TITLES,
    EdgeStyle,
    LineageEdge,
    LineageNode,
    NodeKind,
    NodeStatus,
)
from app.domain.lineage_layout import EdgeRoute, NodeBox


@dataclass(frozen=True)
class KindColors:
    fill: str
    border: str
    tag: str


# Light fills keep dark text readable in both themes (the scene has its own background).
KIND_COLORS: dict[NodeKind, KindColors] = {
    NodeKind.DATASET: KindColors("#ccfbf1", "#0f766e", "#0f766e"),
    NodeKind.RUN: KindColors("#e0e7ff", "#4338ca", "#4338ca"),
    NodeKind.LOGGED_MODEL: KindColors("#f3e8ff", "#7e22ce", "#7e22ce"),
    NodeKind.VERSION: KindColors("#dbeafe", "#1d4ed8", "#1d4ed8"),
    NodeKind.ALIAS: KindColors("#dcfce7", "#15803d", "#15803d"),
    NodeKind.ENDPOINT: KindColors("#f1f5f9", "#475569", "#334155"),
}
STATUS_BORDER = {
    NodeStatus.DRIFT: "#dc2626",
    NodeStatus.DOWN: "#dc2626",
    NodeStatus.OK: "#15803d",
    NodeStatus.UNKNOWN: "#94a3b8",
}
STATUS_TAG = {
    NodeStatus.DRIFT: "DRIFT",
    NodeStatus.DOWN: "DOWN",
    NodeStatus.OK: "MATCH",
    NodeStatus.UNKNOWN: "UNVERIFIED",
}
TEXT = QColor("#0f172a")
MUTED_TEXT = QColor("#475569")
EDGE_COLORS = {
    EdgeStyle.NORMAL: "#64748b",
    EdgeStyle.DRIFT: "#dc2626",
    EdgeStyle.UNVERIFIED: "#94a3b8",
    EdgeStyle.RELATED: "#0d9488",
}
# Short enough to leave room for a status on the same line.
BOX_TAGS = {
    NodeKind.DATASET: "Dataset",
    NodeKind.RUN: "Training run",
    NodeKind.LOGGED_MODEL: "Logged model",
    NodeKind.VERSION: "Version",
    NodeKind.ALIAS: "Alias",
    NodeKind.ENDPOINT: "Endpoint",
}
RADIUS = 8.0
ARROW = 8.0


def _font(point_size: float, bold: bool = False, caps: bool = False) -> QFont:
    font = QFont()
    font.setPointSizeF(point_size)
    font.setBold(bold)
    if caps:
        font.setCapitalization(QFont.Capitalization.AllUppercase)
        font.setLetterSpacing(QFont.SpacingType.PercentageSpacing, 106)
    return font


class NodeItem(QGraphicsObject):
    """One node: kind tag, label and caption, elided to the box; full text in the tooltip."""

    def __init__(self, node: LineageNode, box: NodeBox) -> None:
        super().__init__()
        self.node = node
        self.box = box
        self.setPos(box.x, box.y)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setZValue(2)
        self._hover = False
        tips = [f"<b>{KIND_TITLES[node.kind]}: {node.label}</b>"]
        if node.caption:
            tips.append(node.caption)
        tips.append("<i>Click for details</i>")
        self.setToolTip("<br>".join(tips))

    def boundingRect(self) -> QRectF:
        return QRectF(-3, -3, self.box.width + 6, self.box.height + 6)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(QRectF(0, 0, self.box.width, self.box.height), RADIUS, RADIUS)
        return path

    def hoverEnterEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self._hover = True
        self.update()
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self._hover = False
        self.update()
        super().hoverLeaveEvent(event)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        n, w, h = self.node, self.box.width, self.box.height
        colors = KIND_COLORS[n.kind]
        border = QColor(STATUS_BORDER.get(n.status, colors.border))
        fill = QColor(colors.fill)
        if n.status in (NodeStatus.DRIFT, NodeStatus.DOWN):
            fill = QColor("#fee2e2")
        width = 1.4
        if n.focus or n.status in (NodeStatus.DRIFT, NodeStatus.DOWN):
            width = 2.6
        if self.isSelected():
            width = 3.4
            border = border.darker(130)
        elif self._hover:
            fill = fill.darker(106)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(border, width))
        painter.setBrush(QBrush(fill))
        painter.drawRoundedRect(QRectF(0, 0, w, h), RADIUS, RADIUS)

        pad = 10.0
        inner = w - 2 * pad
        tag_font = _font(7.2, bold=True, caps=True)
        tag = "This version" if n.focus else BOX_TAGS[n.kind]
        status = STATUS_TAG.get(n.status)
        painter.setFont(tag_font)
        painter.setPen(QColor(colors.tag))
        painter.drawText(QRectF(pad, 6, inner, 14), Qt.AlignmentFlag.AlignLeft, tag)
        if status:
            painter.setPen(border)
            painter.drawText(QRectF(pad, 6, inner, 14), Qt.AlignmentFlag.AlignRight, status)

        label_font = _font(10.0, bold=True)
        painter.setFont(label_font)
        painter.setPen(TEXT)
        label = QFontMetricsF(label_font).elidedText(n.label, Qt.TextElideMode.ElideMiddle, inner)
        painter.drawText(QRectF(pad, 21, inner, 22), Qt.AlignmentFlag.AlignLeft, label)
        if n.caption:
            cap_font = _font(8.4)
            painter.setFont(cap_font)
            painter.setPen(MUTED_TEXT)
            cap = QFontMetricsF(cap_font).elidedText(n.caption, Qt.TextElideMode.ElideRight, inner)
            painter.drawText(QRectF(pad, 43, inner, 18), Qt.AlignmentFlag.AlignLeft, cap)


class EdgeItem(QGraphicsPathItem):
    """An arrow along a route; its label sits in the last gap, just above the line."""

    def __init__(
        self,
        edge: LineageEdge,
        route: EdgeRoute,
        label_color: QColor,
        label_at_source: bool = False,
    ) -> None:
        """label_at_source: put the label where the edge leaves its source (when several
        edges enter the same target, labels at the target would sit on each other)."""
        super().__init__()
        self.edge = edge
        self.route = route
        self.label_at_source = label_at_source
        color = QColor(EDGE_COLORS[edge.style])
        pen = QPen(color, 2.2 if edge.style is EdgeStyle.DRIFT else 1.4)
        if edge.style is EdgeStyle.UNVERIFIED:
            pen.setStyle(Qt.PenStyle.DashLine)
        elif edge.style is EdgeStyle.RELATED:
            pen.setStyle(Qt.PenStyle.DotLine)
            pen.setWidthF(1.8)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        self.setPen(pen)
        self.setZValue(1)
        self._color = color
        self._label_color = label_color
        self.setPath(self._path(route.points))
        if edge.label:
            self.setToolTip(edge.label)

    @staticmethod
    def _path(points: tuple[tuple[float, float], ...]) -> QPainterPath:
        path = QPainterPath(QPointF(*points[0]))
        for (x0, y0), (x1, y1) in pairwise(points):
            if abs(y1 - y0) < 0.5:
                path.lineTo(x1, y1)
            else:
                mid = (x0 + x1) / 2
                path.cubicTo(QPointF(mid, y0), QPointF(mid, y1), QPointF(x1, y1))
        return path

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        super().paint(painter, option, widget)
        (xe, ye) = self.route.points[-1]
        head = QPolygonF(
            [
                QPointF(xe, ye),
                QPointF(xe - ARROW * 1.3, ye - ARROW / 1.6),
                QPointF(xe - ARROW * 1.3, ye + ARROW / 1.6),
            ]
        )
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self._color)
        painter.drawPolygon(head)
        if self.edge.label:
            font = _font(7.4)
            painter.setFont(font)
            metrics = QFontMetricsF(font)
            # A label fits in the gap it is drawn in, clear of the boxes and the arrow head.
            pts = self.route.points
            gap = (pts[1][0] - pts[0][0]) if self.label_at_source else (pts[-1][0] - pts[-2][0])
            room = max(24.0, abs(gap) - ARROW * 1.6 - 4)
            text = metrics.elidedText(self.edge.label, Qt.TextElideMode.ElideRight, room)
            tw = metrics.horizontalAdvance(text)
            color = self._label_color if self.edge.style is EdgeStyle.NORMAL else self._color
            painter.setPen(color)
            if self.label_at_source:
                # Where the curve leaves its source it still runs level with it.
                x0, y0 = self.route.points[0]
                painter.drawText(QPointF(x0 + 6, y0 - 5), text)
            else:
                x1, y1 = self.route.points[-1]
                painter.drawText(QPointF(x1 - tw - ARROW * 1.6, y1 - 5), text)

    def boundingRect(self) -> QRectF:
        return super().boundingRect().adjusted(-100, -14, 4, 10)
