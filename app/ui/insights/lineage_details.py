"""The side panel of the lineage graph: the selected node's kind, name and fields,
and what can be done from it (other versions trained on a dataset, open a version)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.lineage import KIND_TITLES, LineageNode, NodeKind
from app.ui.common.signals import emit
from app.ui.common.widgets import muted_label, section_title


class NodeDetails(QWidget):
    """The selected node's kind, name and every field, with its actions."""

    expand_requested = Signal(str)  # dataset node id
    open_version_requested = Signal(str, str, int)  # registry, model, version

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 0, 0, 0)
        self.kind = muted_label()
        self.title = section_title("")
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, 2)
        self.table.setObjectName("LineageNodeDetails")
        self.table.setHorizontalHeaderLabels(["Field", "Value"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.related_button = QPushButton("Other versions trained on this data")
        self.related_button.setToolTip(
            "Add to the graph every cached version whose run used data with this digest"
        )
        self.open_button = QPushButton("Open this version")
        for w in (self.kind, self.title):
            lay.addWidget(w)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.related_button)
        lay.addWidget(self.open_button)
        self.node: LineageNode | None = None
        self.related_button.clicked.connect(self._related)
        self.open_button.clicked.connect(self._open)
        self.show_node(None)

    def show_node(self, node: LineageNode | None, root: bool = False) -> None:
        self.node = node
        if node is None:
            self.kind.setText("Click a box to see its details.")
            self.title.setText("")
            self.table.setRowCount(0)
            self.related_button.hide()
            self.open_button.hide()
            return
        self.kind.setText(KIND_TITLES[node.kind] + (" — the version shown" if root else ""))
        self.title.setText(node.label)
        rows = [(k, v) for k, v in node.details if v]
        self.table.setRowCount(len(rows))
        for r, (key, value) in enumerate(rows):
            for c, text in enumerate((key, value)):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(r, c, item)
        self.table.resizeRowsToContents()
        self.related_button.setVisible(node.kind is NodeKind.DATASET and bool(node.digest))
        self.open_button.setVisible(
            node.kind is NodeKind.VERSION and node.version is not None and not root
        )

    def _related(self) -> None:
        if self.node is not None:
            emit(self.expand_requested, self.node.id)

    def _open(self) -> None:
        n = self.node
        if n is not None and n.version is not None:
            emit(self.open_version_requested, n.registry, n.model, n.version)
