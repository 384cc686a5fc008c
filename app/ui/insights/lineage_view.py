"""The lineage of a version as a graph: zoomable view, node details, PNG/SVG export.

The graph and its layout are computed off the GUI thread (see insights_ui); this
module only draws them and turns clicks into requests: show a node's details, list
the other versions trained on a dataset, open another version.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QImage,
    QImageWriter,
    QMouseEvent,
    QPainter,
    QPalette,
    QResizeEvent,
    QShowEvent,
    QWheelEvent,
)
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import (
    QFileDialog,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app.domain.lineage import KIND_TITLES, EdgeStyle, LineageGraph, NodeKind
from app.domain.lineage_layout import LineageLayout
from app.ui.common.signals import emit
from app.ui.common.theme import readable_on_palette
from app.ui.common.widgets import EmptyState, muted_label
from app.ui.insights.lineage_details import NodeDetails
from app.ui.insights.lineage_items import EDGE_COLORS, KIND_COLORS, EdgeItem, NodeItem

log = logging.getLogger("gavel.ui.lineage")

MIN_ZOOM, MAX_ZOOM = 0.15, 3.0
# A graph this many times wider than tall gets its details below, not beside it.
WIDE_RATIO = 2.2
SCENE_MARGIN = 16.0


class LineageGraphView(QGraphicsView):
    """Ctrl+wheel zooms around the pointer; the plain wheel scrolls as usual."""

    zoomed = Signal(float)

    def __init__(self, scene: QGraphicsScene, parent: QWidget | None = None) -> None:
        super().__init__(scene, parent)
        self.setObjectName("LineageGraph")
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        # Fitted until the user zooms: then resizing keeps their zoom.
        self.auto_fit = True

    @property
    def zoom_level(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float) -> None:
        self.auto_fit = False
        target = max(MIN_ZOOM, min(MAX_ZOOM, self.zoom_level * factor))
        factor = target / self.zoom_level
        if abs(factor - 1.0) > 1e-6:
            self.scale(factor, factor)
            emit(self.zoomed, self.zoom_level)

    def fit(self) -> None:
        """Show the whole graph, never enlarged beyond 100 % (small graphs stay crisp)."""
        self.auto_fit = True
        rect = self.sceneRect()
        if rect.isEmpty():
            return
        self.resetTransform()
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom_level > 1.0:
            self.resetTransform()
        elif self.zoom_level < MIN_ZOOM:
            self.resetTransform()
            self.scale(MIN_ZOOM, MIN_ZOOM)
        self.centerOn(rect.center())
        emit(self.zoomed, self.zoom_level)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.auto_fit:
            self.fit()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.auto_fit:
            self.fit()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if self.itemAt(event.position().toPoint()) is None:
            self.fit()
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = event.angleDelta().y() / 120.0
            if steps:
                self.zoom_by(1.15**steps)
            event.accept()
            return
        super().wheelEvent(event)


class LineagePanel(QWidget):
    """Toolbar, graph and node details; `show_graph` takes a graph with its layout."""

    expand_requested = Signal(str)
    open_version_requested = Signal(str, str, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graph: LineageGraph | None = None
        self.layout_result: LineageLayout | None = None
        self.node_items: dict[str, NodeItem] = {}
        self.edge_items: list[EdgeItem] = []

        self.scene = QGraphicsScene(self)
        self.view = LineageGraphView(self.scene)
        self.details = NodeDetails()
        self.toolbar = QToolBar("Lineage")
        self.toolbar.setObjectName("LineageToolbar")
        self.toolbar.setIconSize(QSize(16, 16))
        self.fit_action = self._action("Fit", "Show the whole graph (also: double-click)", self.fit)
        self.zoom_in_action = self._action("Zoom in", "Ctrl+wheel zooms too", self.zoom_in)
        self.zoom_out_action = self._action("Zoom out", "", self.zoom_out)
        self.toolbar.addSeparator()
        self.png_action = self._action("Export PNG…", "Save the graph as an image", self._png)
        self.svg_action = self._action(
            "Export SVG…", "Save the graph as a vector drawing", self._svg
        )
        self.zoom_label = muted_label()
        self.toolbar.addSeparator()
        self.toolbar.addWidget(self.zoom_label)
        self.legend = QLabel(_legend_html())
        self.legend.setObjectName("LineageLegend")

        graph_page = QSplitter(Qt.Orientation.Horizontal)
        graph_page.setObjectName("LineageSplitter")
        graph_page.addWidget(self.view)
        graph_page.addWidget(self.details)
        graph_page.setStretchFactor(0, 4)
        graph_page.setStretchFactor(1, 1)
        graph_page.setSizes([720, 260])
        self.splitter = graph_page
        self.empty = EmptyState()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(graph_page)
        self.notes = muted_label()
        self.notes.setObjectName("LineageNotes")

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.toolbar)
        top.addStretch(1)
        top.addWidget(self.legend)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(top)
        lay.addWidget(self.stack, 1)
        lay.addWidget(self.notes)

        self.scene.selectionChanged.connect(self._selection_changed)
        self.view.zoomed.connect(lambda z: self.zoom_label.setText(f"{z:.0%}"))
        self.details.expand_requested.connect(lambda node: emit(self.expand_requested, node))
        self.details.open_version_requested.connect(
            lambda r, m, v: emit(self.open_version_requested, r, m, v)
        )
        self.show_message("No version selected", "Select a version to see where it came from.")

    def _action(self, text: str, tip: str, slot: object) -> QAction:
        action = self.toolbar.addAction(text)
        action.setToolTip(tip or text)
        action.triggered.connect(slot)
        return action

    # -- content -------------------------------------------------------------------------

    def show_message(self, title: str, text: str = "") -> None:
        self.empty.set_content(title, text)
        self.stack.setCurrentWidget(self.empty)
        self.notes.setText("")
        for action in (
            self.fit_action,
            self.zoom_in_action,
            self.zoom_out_action,
            self.png_action,
            self.svg_action,
        ):
            action.setEnabled(False)

    def show_graph(self, graph: LineageGraph, layout: LineageLayout, refit: bool = True) -> None:
        selected = self.selected_node_id
        self.graph, self.layout_result = graph, layout
        self.scene.clearSelection()
        self.scene.clear()
        self.node_items, self.edge_items = {}, []
        palette = self.palette()
        self.scene.setBackgroundBrush(palette.color(QPalette.ColorRole.Base))
        muted = palette.color(QPalette.ColorRole.PlaceholderText)
        incoming: dict[str, int] = {}
        for e in graph.edges:
            incoming[e.target] = incoming.get(e.target, 0) + 1
        routes = {(r.source, r.target): r for r in layout.routes}
        for e in graph.edges:
            route = routes.get((e.source, e.target))
            if route is None:
                continue
            item = EdgeItem(e, route, muted, label_at_source=incoming.get(e.target, 0) > 1)
            self.scene.addItem(item)
            self.edge_items.append(item)
        for n in graph.nodes:
            node_item = NodeItem(n, layout.boxes[n.id])
            self.scene.addItem(node_item)
            self.node_items[n.id] = node_item
        self.scene.setSceneRect(
            self.scene.itemsBoundingRect().adjusted(
                -SCENE_MARGIN, -SCENE_MARGIN, SCENE_MARGIN, SCENE_MARGIN
            )
        )
        self._orient(layout)
        self.stack.setCurrentWidget(self.splitter)
        for action in (
            self.fit_action,
            self.zoom_in_action,
            self.zoom_out_action,
            self.png_action,
            self.svg_action,
        ):
            action.setEnabled(True)
        self.notes.setText(" ".join(graph.notes))
        self.notes.setVisible(bool(graph.notes))
        keep = selected if selected in self.node_items else graph.root
        self.select_node(keep)
        if refit:
            self.fit()

    def _orient(self, layout: LineageLayout) -> None:
        """Details beside a tall graph, below a wide one: the graph gets the long side."""
        wide = layout.width > WIDE_RATIO * layout.height
        orientation = Qt.Orientation.Vertical if wide else Qt.Orientation.Horizontal
        if self.splitter.orientation() == orientation:
            return
        self.splitter.setOrientation(orientation)
        total = (self.splitter.height() if wide else self.splitter.width()) or 600
        share = 0.6 if wide else 0.75
        self.splitter.setSizes([int(total * share), int(total * (1 - share))])

    @property
    def selected_node_id(self) -> str | None:
        for item in self.scene.selectedItems():
            if isinstance(item, NodeItem):
                return item.node.id
        return None

    def select_node(self, node_id: str) -> None:
        item = self.node_items.get(node_id)
        if item is None:
            return
        self.scene.clearSelection()
        item.setSelected(True)

    def _selection_changed(self) -> None:
        node_id = self.selected_node_id
        node = self.graph.node(node_id) if self.graph and node_id else None
        self.details.show_node(node, root=self.graph is not None and node_id == self.graph.root)

    # -- zoom ----------------------------------------------------------------------------

    def fit(self) -> None:
        self.view.fit()

    def zoom_in(self) -> None:
        self.view.zoom_by(1.25)

    def zoom_out(self) -> None:
        self.view.zoom_by(1 / 1.25)

    # -- export --------------------------------------------------------------------------

    def _export_rect(self) -> QRectF:
        return self.scene.itemsBoundingRect().adjusted(-16, -16, 16, 16)

    def export_png(self, path: str | Path, scale: float = 2.0) -> Path:
        """The whole graph (not only what is on screen) as a PNG, at `scale` × 100 %."""
        rect = self._export_rect()
        image = QImage(
            max(1, int(rect.width() * scale)),
            max(1, int(rect.height() * scale)),
            QImage.Format.Format_ARGB32,
        )
        image.fill(self.scene.backgroundBrush().color())
        painter = QPainter(image)
        painter.setRenderHints(
            QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing
        )
        self.scene.render(painter, QRectF(image.rect()), rect)
        painter.end()
        out = Path(path)
        writer = QImageWriter(str(out), QByteArray(b"png"))
        if not writer.write(image):
            raise OSError(f"Could not write {out}: {writer.errorString()}")
        return out

    def export_svg(self, path: str | Path) -> Path:
        """The whole graph as an SVG drawing (text stays text, so it can be searched)."""
        rect = self._export_rect()
        out = Path(path)
        generator = QSvgGenerator()
        generator.setFileName(str(out))
        generator.setSize(QSize(int(rect.width()), int(rect.height())))
        generator.setViewBox(QRectF(0, 0, rect.width(), rect.height()))
        root = self.graph.node(self.graph.root) if self.graph else None
        generator.setTitle(f"Lineage of {root.label}" if root else "Lineage")
        generator.setDescription("Exported from Gavel")
        painter = QPainter(generator)
        painter.fillRect(QRectF(0, 0, rect.width(), rect.height()), self.scene.backgroundBrush())
        self.scene.render(painter, QRectF(0, 0, rect.width(), rect.height()), rect)
        painter.end()
        return out

    def _png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export lineage as PNG", self._name("png"), "PNG image (*.png)"
        )
        if path:
            self.export_png(path)

    def _svg(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export lineage as SVG", self._name("svg"), "SVG drawing (*.svg)"
        )
        if path:
            self.export_svg(path)

    def _name(self, ext: str) -> str:
        root = self.graph.node(self.graph.root) if self.graph else None
        stem = root.label.replace(" ", "-") if root else "graph"
        return f"lineage-{stem}.{ext}"


def _legend_html() -> str:
    chips = []
    for kind in NodeKind:
        c = KIND_COLORS[kind]
        chips.append(
            f"<span style='background:{c.fill}; color:#0f172a; border:1px solid {c.border};'>"
            f"&nbsp;{KIND_TITLES[kind]}&nbsp;</span>"
        )
    # The chips keep their own light fill and dark text (as the graph's boxes do); the
    # two line samples sit on the window, so their colours are made legible on it.
    drift = readable_on_palette(EDGE_COLORS[EdgeStyle.DRIFT]).name()
    related = readable_on_palette(EDGE_COLORS[EdgeStyle.RELATED]).name()
    return "&nbsp; ".join(chips) + (
        f"&nbsp;&nbsp;<span style='color:{drift}'>━ drift</span>"
        f"&nbsp;&nbsp;<span style='color:{related}'>┅ same data</span>"
    )
