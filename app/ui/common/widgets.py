"""Small reusable pieces: a banner strip, an empty-state panel, a lazily built slot,
the read-only row table every page lists things in, and actions declared in one call."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from PySide6.QtCore import QAbstractItemModel, QEvent, QObject, QSize, Qt
from PySide6.QtGui import QAction, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.ui.common.resources import icon


class IconLabel(QLabel):
    """A label showing one of the console's icons, redrawn when the palette changes: a
    pixmap is a picture of the icon in the palette of its day."""

    def __init__(self, size: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._size = size
        self._icon_name = ""

    def set_icon(self, name: str) -> None:
        """Show icon `name` ('' for none)."""
        self._icon_name = name
        if name:
            self.setPixmap(icon(name).pixmap(self._size, self._size))
        else:
            self.clear()

    def changeEvent(self, event: QEvent) -> None:
        # Qt may send a palette change while QLabel.__init__ runs, before ours has.
        named = "_icon_name" in vars(self) and bool(self._icon_name)
        if event.type() == QEvent.Type.PaletteChange and named:
            self.setPixmap(icon(self._icon_name).pixmap(self._size, self._size))
        super().changeEvent(event)


class Banner(QFrame):
    """A coloured strip at the top of the window: offline, error or demo.

    kind picks the QSS colours (`QFrame#Banner[kind=...]`).
    """

    def __init__(self, kind: str, icon_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Banner")
        self.setProperty("kind", kind)
        layout = self._row = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.setSpacing(8)
        self._icon = IconLabel(18)
        self._icon.set_icon(icon_name)
        self._icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        layout.addWidget(self._icon)
        layout.addWidget(self.label, 1)
        self._buttons = QHBoxLayout()
        self._buttons.setSpacing(6)
        layout.addLayout(self._buttons)
        self.label.installEventFilter(self)
        self.hide()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.label and event.type() == QEvent.Type.Resize:
            self._fit()
        return False

    def _fit(self) -> None:
        # In the main window Qt's layouts sometimes give the word-wrapped label one
        # line's height at a width that needs two, clipping the sentence that says what
        # to do: ask the label for its height at its width and hold it there.
        need = self.label.heightForWidth(self.label.width())
        if need > 0 and self.label.minimumHeight() != need:
            self.label.setMinimumHeight(need)
            margins = self.contentsMargins().top() + self.contentsMargins().bottom()
            inner = self._row.contentsMargins()
            self.setMinimumHeight(need + margins + inner.top() + inner.bottom())

    @property
    def kind(self) -> str:
        return str(self.property("kind"))

    def add_button(self, text: str, slot: Callable[[], None]) -> QPushButton:
        button = QPushButton(text)
        button.clicked.connect(slot)
        self._buttons.addWidget(button)
        return button

    def show_text(self, text: str) -> None:
        self.label.setText(text)
        self._fit()
        self.show()

    def set_kind(self, kind: str, icon_name: str) -> None:
        if kind != self.kind:
            self.setProperty("kind", kind)
            self._icon.set_icon(icon_name)
            # Dynamic properties only restyle after an explicit re-polish.
            self.style().unpolish(self)
            self.style().polish(self)
            for child in self.findChildren(QLabel):
                self.style().unpolish(child)
                self.style().polish(child)


class EmptyState(QWidget):
    """A centred title, explanation and optional actions where a list would be."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        self.title = QLabel()
        self.title.setObjectName("EmptyStateTitle")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setWordWrap(True)
        self.text = QLabel()
        self.text.setObjectName("EmptyStateText")
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text.setWordWrap(True)
        outer.addWidget(self.title)
        outer.addWidget(self.text)
        self._button_row = QHBoxLayout()
        self._buttons: list[QPushButton] = []
        self._content: tuple[str, str, tuple[str, ...]] | None = None
        outer.addLayout(self._button_row)
        outer.addStretch(2)

    def set_content(
        self, title: str, text: str, actions: list[tuple[str, Callable[[], None]]] | None = None
    ) -> None:
        actions = actions or []
        key = (title, text, tuple(label for label, _ in actions))
        if key == self._content:
            return  # unchanged: keep the buttons (and any hover or focus on them)
        self._content = key
        self.title.setText(title)
        self.text.setText(text)
        self.text.setVisible(bool(text))
        while self._button_row.count():
            item = self._button_row.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.hide()
                widget.deleteLater()
        self._button_row.addStretch(1)
        self._buttons = []
        for label, slot in actions:
            button = QPushButton(label)
            button.clicked.connect(slot)
            self._button_row.addWidget(button)
            self._buttons.append(button)
        self._button_row.addStretch(1)

    @property
    def buttons(self) -> list[QPushButton]:
        return list(self._buttons)


def row_table(
    model: QAbstractItemModel,
    name: str = "",
    *,
    widths: Iterable[tuple[int, int]] = (),
    row_height: int = 26,
    stretch: int | None = None,
    single_selection: bool = True,
) -> QTableView:
    """A read-only table of rows, as every page shows them: whole rows selected,
    alternating colours, no row numbers, no wrapping, columns the user can resize.

    widths: (column, pixels) to start with; stretch: the column that takes the spare
    width (default: the last one).
    """
    table = QTableView()
    if name:
        table.setObjectName(name)
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    if single_selection:
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(row_height)
    header = table.horizontalHeader()
    header.setHighlightSections(False)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setStretchLastSection(stretch is None)
    if stretch is not None:
        header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    for column, width in widths:
        table.setColumnWidth(column, width)
    return table


def show_outcome(label: QLabel, text: str, error: bool) -> None:
    """An outcome line under a form: the text, styled as a field error or plain; hidden
    when empty. The object name drives the QSS, so the label is re-polished."""
    label.setObjectName("FieldError" if error else "")
    label.style().unpolish(label)
    label.style().polish(label)
    label.setText(text)
    label.setVisible(bool(text))


def error_label() -> QLabel:
    """A form's error line, hidden until something goes wrong: red (the palette's
    FieldError), wrapped, and selectable so the sentence can be copied into a ticket."""
    label = QLabel()
    label.setObjectName("FieldError")
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.hide()
    return label


def muted_label(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setObjectName("Muted")
    label.setWordWrap(True)
    return label


def section_title(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("SectionTitle")
    return label


def hline() -> QFrame:
    line = QFrame()
    line.setFrameShape(QFrame.Shape.HLine)
    line.setFrameShadow(QFrame.Shadow.Sunken)
    return line


class LazySlot(QWidget):
    """A place for a widget that is built the first time it is shown or asked for.

    Charts need matplotlib and numpy (~350 ms to import); start-up should not pay for
    a tab nobody has opened yet.
    """

    def __init__(
        self,
        factory: Callable[[], QWidget],
        parent: QWidget | None = None,
        hint: QSize = QSize(640, 360),  # noqa: B008 - an immutable value
    ) -> None:
        super().__init__(parent)
        self._factory = factory
        self._hint = hint
        self._widget: QWidget | None = None
        # Laid out before it is built (splitters, tabs): ask for the room the content
        # will want, not the nothing an empty slot needs.
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)

    @property
    def is_built(self) -> bool:
        return self._widget is not None

    @property
    def widget(self) -> QWidget:
        if self._widget is None:
            self._widget = self._factory()
            self._layout.addWidget(self._widget)
        return self._widget

    def sizeHint(self) -> QSize:
        return self._widget.sizeHint() if self._widget is not None else self._hint

    def showEvent(self, event: QShowEvent) -> None:
        self.widget  # noqa: B018 - building is the point
        super().showEvent(event)


def make_action(
    parent: QObject,
    text: str,
    icon_name: str | None = None,
    shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
    tip: str = "",
) -> QAction:
    """An action with its icon, a window-wide shortcut and the tip shown for it."""
    action = QAction(text, parent)
    if icon_name:
        action.setIcon(icon(icon_name))
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    if tip:
        action.setStatusTip(tip)
        action.setToolTip(tip)
    return action
