"""Evidence pack… from the console: a save dialog, then the pack read, charted and
written on the task runner (progress and Cancel in the status bar), then a sentence.

The same writer as `gavel evidence pack` (app.ui.common.reports): what a person saves
from the console is what the command line writes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from app.domain.cancel import CancelToken
from app.domain.errors import GavelError
from app.domain.progress import Progress, ProgressCallback
from app.services.evidence import EvidencePack
from app.ui.common.context import ConsoleContext
from app.ui.common.host import Host
from app.ui.common.signals import emit
from app.ui.common.tasks import TaskRunner

log = logging.getLogger("gavel.ui.evidence")

EVIDENCE_TASK = "evidence-pack"
FILTERS = "PDF document (*.pdf);;HTML page (*.html)"


class EvidenceExporter(QObject):
    """Saves evidence packs chosen in the request view and the versions list."""

    # (path, sentence) once a pack is written; a failure goes to the host's notice.
    written = Signal(str, str)

    def __init__(
        self, host: Host, ctx: ConsoleContext, runner: TaskRunner, parent: QWidget
    ) -> None:
        super().__init__(parent)
        self.host = host
        self.ctx = ctx
        self.runner = runner
        self._parent = parent
        self.dialog: QFileDialog | None = None

    def export_request(self, request_id: str, title: str) -> None:
        """Ask where to save the pack of a promotion request, then write it."""
        evidence = self.ctx.evidence
        self._ask(
            f"evidence-request-{request_id[:12]}", title, lambda: evidence.for_request(request_id)
        )

    def export_version(self, registry: str, model: str, version: int) -> None:
        """Ask where to save the pack of a model version, then write it."""
        evidence = self.ctx.evidence
        self._ask(
            f"evidence-{model}-v{version}",
            f"{model} version {version}",
            lambda: evidence.for_version(model, version, registry),
        )

    def _ask(self, stem: str, title: str, build: Callable[[], EvidencePack]) -> None:
        if self.dialog is not None:
            self.dialog.close()
        safe = re.sub(r"[^\w.-]+", "-", stem).strip("-") or "evidence"
        folder = Path.home()
        dialog = QFileDialog(
            self._parent, f"Save the evidence pack of {title}", str(folder / f"{safe}.pdf"), FILTERS
        )
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("pdf")
        # Qt's own dialog: the same on every platform, and scriptable in tests.
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog)
        dialog.selectFile(f"{safe}.pdf")
        dialog.fileSelected.connect(lambda path: self.write(Path(path), build))
        self.dialog = dialog
        dialog.open()

    def write(self, path: Path, build: Callable[[], EvidencePack]) -> None:
        """Build and write the pack on the runner (the GUI thread only hears the outcome)."""
        if path.suffix.lower() not in (".pdf", ".html", ".htm"):
            path = path.with_suffix(".pdf")

        def work(cancel: CancelToken, progress: ProgressCallback) -> str:
            progress(Progress("Reading the record from the ledger and the cache"))
            pack = build()
            if cancel.cancelled:
                raise GavelError("Evidence pack cancelled; nothing was written.")
            progress(Progress("Drawing charts and writing the pack"))
            # Charts import matplotlib: only when somebody prints a pack.
            from app.ui.common.reports.evidence_pdf import write_pack

            what = write_pack(pack, path)
            return f"Evidence pack saved: {path} ({what}). {_checkpoint_words(pack)}"

        handle = self.runner.run(
            work,
            key=EVIDENCE_TASK,
            label="Writing the evidence pack",
            on_success=lambda sentence: self._done(str(path), sentence),
            on_failure=lambda exc: self.host.show_notice(exc.message),
        )
        self.host.track_task(handle)

    def _done(self, path: str, sentence: str) -> None:
        log.info("evidence pack written to %s", path)
        self.host.show_status(sentence, 15000)
        emit(self.written, path, sentence)


def _checkpoint_words(pack: EvidencePack) -> str:
    cp = pack.checkpoint
    return f"It rests on the ledger up to event {cp.seq}." if cp else ""
