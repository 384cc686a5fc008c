"""Sort arrows that point the way the rows run.

Qt draws Qt.DescendingOrder as an arrow pointing up (QHeaderView maps it to
QStyleOptionHeader.SortUp), so a list running newest first showed ▲. With this proxy
style a descending column shows ▼ (largest at the top, getting smaller downwards) and
an ascending one ▲, as file managers and spreadsheets do.
"""

from __future__ import annotations

from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QHeaderView,
    QProxyStyle,
    QStyle,
    QStyleOption,
    QStyleOptionHeader,
    QWidget,
)

_SWAP = {
    QStyleOptionHeader.SortIndicator.SortUp: QStyleOptionHeader.SortIndicator.SortDown,
    QStyleOptionHeader.SortIndicator.SortDown: QStyleOptionHeader.SortIndicator.SortUp,
}


class SortArrowStyle(QProxyStyle):
    def drawPrimitive(
        self,
        element: QStyle.PrimitiveElement,
        option: QStyleOption,
        painter: QPainter,
        widget: QWidget | None = None,
    ) -> None:
        if element is QStyle.PrimitiveElement.PE_IndicatorHeaderArrow and isinstance(
            option, QStyleOptionHeader
        ):
            swapped = QStyleOptionHeader(option)
            swapped.sortIndicator = _SWAP.get(option.sortIndicator, option.sortIndicator)
            option = swapped
        super().drawPrimitive(element, option, painter, widget)


def point_sort_arrows_the_way_rows_run(header: QHeaderView) -> None:
    """Descending shows ▼, ascending ▲ on this header (the style lives with it)."""
    style = SortArrowStyle()
    style.setParent(header)
    header.setStyle(style)
