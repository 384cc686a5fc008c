"""The status bar's task progress: the running task's counts, a bar and Cancel."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from app.domain.progress import Progress
from app.presentation.formatting import progress_text
from app.ui.common.resources import icon
from app.ui.common.tasks import TaskHandle


class TaskProgress(QWidget):
    """Label, bar and Cancel for one task; appears only once the task's delay passed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        self.label = QLabel()
        # Wide enough for "demo: reading runs 1,200 of 4,000" without jitter.
        self.label.setMinimumWidth(260)
        self.label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.bar = QProgressBar()
        self.bar.setFixedWidth(120)
        self.bar.setMaximumHeight(14)
        self.bar.setTextVisible(False)
        self.cancel_button = QPushButton(icon("cancel"), "Cancel")
        self.cancel_button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.cancel_button.setFlat(True)
        self.cancel_button.setToolTip("Stop; the cache keeps its previous snapshot")
        self.cancel_button.clicked.connect(self.cancel)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        self.handle: TaskHandle | None = None
        self.hide()

    def track(self, handle: TaskHandle) -> None:
        self.handle = handle
        # Bound methods, not lambdas over the handle: Qt would keep those (and so the
        # handle) alive for as long as the handle's own signals exist.
        handle.progressed.connect(self._progressed)
        handle.progress_due.connect(self._show)
        handle.finished.connect(self._finished)
        self.cancel_button.setEnabled(True)

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.cancel_button.setEnabled(False)
            self.label.setText("Cancelling…")

    def _show(self) -> None:
        if self.handle is not None and self.sender() is self.handle:
            self._render(self.handle.latest)
            self.show()

    def _progressed(self, progress: Progress) -> None:
        handle = self.handle
        if handle is not None and self.sender() is handle and not handle.cancelled:
            self._render(progress)

    def _render(self, progress: Progress | None) -> None:
        if progress is None:
            self.label.setText(f"{self.handle.label}…" if self.handle else "")
            self.bar.setRange(0, 0)
            return
        self.label.setText(progress_text(progress))
        if progress.total:
            self.bar.setRange(0, progress.total)
            self.bar.setValue(min(progress.done, progress.total))
        else:
            self.bar.setRange(0, 0)  # busy indicator

    def _finished(self) -> None:
        if self.handle is not None and self.sender() is self.handle:
            self.handle = None
            self.hide()
