"""The Findings page: auditors' findings, those on the ledger (open or resolved) and
those signed here and not yet imported; recording one about the model on screen, and
an admin's signed resolution. Both signatures go through the signing dialog."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Protocol

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, SignalInstance
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.domain.authority_records import Finding, FindingSubject, Severity
from app.domain.cancel import CancelToken
from app.domain.governance import Role
from app.domain.ledger import LedgerEvent
from app.domain.progress import ProgressCallback
from app.services.findings import ImportResult, SignedFinding, about
from app.services.governance_inbox import sign_block_reason
from app.ui.common.context import ConsoleContext
from app.ui.common.host import Host, ModelFocus
from app.ui.common.row_list_model import RowListModel
from app.ui.common.tasks import Lane, TaskRunner
from app.ui.common.theme import semantic
from app.ui.common.widgets import EmptyState, row_table
from app.ui.governance.governance_controller import GovernanceController
from app.ui.governance.request_detail import RequestDetailView
from app.ui.governance.sign_dialog import ReasonField, SignDialog

FINDINGS_PAGE = "findings"


class EventPanel(Protocol):
    """What the audit trail offers (features do not import each other; see console)."""

    findings_line: QLabel
    event_selected: SignalInstance
    finding_requested: SignalInstance

    @property
    def selected_event(self) -> LedgerEvent | None: ...


NOT_IMPORTED = "Signed here, not yet on a ledger"


@dataclass(frozen=True)
class FindingRow:
    finding_id: str
    severity: str
    about: Mapping[str, Any]
    text: str
    auditor: str
    recorded_at: str
    state: str
    on_ledger: bool
    open: bool


class FindingColumn(IntEnum):
    SEVERITY = 0
    ABOUT = 1
    TEXT = 2
    AUDITOR = 3
    STATE = 4
    RECORDED = 5


_TITLES = ("Severity", "About", "Finding", "Auditor", "State", "Recorded (UTC)")


def about_text(subject: Mapping[str, Any]) -> str:
    kind = subject.get("kind")
    where = f"{subject.get('model', '')} in {subject.get('registry', '')}"
    if kind == FindingSubject.VERSION:
        return f"v{subject.get('version')} of {where}"
    if kind == FindingSubject.MODEL:
        return f"model {where}"
    if kind == FindingSubject.REQUEST:
        return f"request {str(subject.get('request_id', ''))[:8]}"
    if kind == FindingSubject.EVENT:
        return f"ledger event {subject.get('seq')}"
    return str(kind)


_RANK = {Severity.OBSERVATION.value: 0, Severity.MINOR.value: 1, Severity.MAJOR.value: 2}


def open_about(rows: Sequence[FindingRow], **match: Any) -> list[FindingRow]:
    """Open findings (on a ledger or signed here) whose subject has all of ``match``."""
    return [r for r in rows if r.open and all(r.about.get(k) == v for k, v in match.items())]


def count_text(found: Sequence[FindingRow], what: str = "") -> str:
    """'1 open finding (major)', '3 open findings about v2 (worst: major)'; '' for none."""
    if not found:
        return ""
    worst = max((r.severity for r in found), key=lambda v: _RANK.get(v, -1))
    about = f" about {what}" if what else ""
    if len(found) == 1:
        return f"1 open finding{about} ({worst})"
    return f"{len(found)} open findings{about} (worst: {worst})"


def findings_link(parts: Sequence[str]) -> str:
    """The line shown beside what findings concern, linking to the Findings page."""
    shown = [p for p in parts if p]
    if not shown:
        return ""
    return f'⚑ {" · ".join(shown)} — <a href="{FINDINGS_PAGE}">see Findings</a>'


def finding_rows(
    on_ledger: Sequence[Finding], pending: Sequence[SignedFinding]
) -> list[FindingRow]:
    """Ledger findings (open first), then those signed here that no ledger holds yet."""
    rows = [
        FindingRow(
            f.finding_id,
            f.severity.value,
            f.about,
            f.text,
            f.auditor,
            f.recorded_at[:19].replace("T", " "),
            "Open" if f.open else f"Resolved by {f.resolved_by}: {f.resolution}",
            True,
            f.open,
        )
        for f in sorted(on_ledger, key=lambda f: (not f.open, -f.seq))
    ]
    known = {f.finding_id for f in on_ledger}
    for p in pending:
        doc = p.document
        if str(doc.get("id")) in known:
            continue
        rows.append(
            FindingRow(
                str(doc.get("id")),
                str(doc.get("severity")),
                dict(doc.get("about") or {}),
                str(doc.get("text")),
                str(doc.get("auditor")),
                str(doc.get("recorded_at", ""))[:19].replace("T", " "),
                NOT_IMPORTED,
                False,
                True,
            )
        )
    return rows


class FindingsModel(RowListModel[FindingRow]):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(_TITLES, parent)

    def set_rows(self, rows: Sequence[FindingRow]) -> None:
        self._reset(rows)

    def finding_at(self, row: int) -> FindingRow | None:
        return self._row(row)

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        f = self.finding_at(index.row()) if index.isValid() else None
        if f is None:
            return None
        column = FindingColumn(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                f.severity.capitalize(),
                about_text(f.about),
                f.text,
                f.auditor,
                f.state,
                f.recorded_at,
            )[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{f.text}\n\n{f.state}"
        major = f.severity == Severity.MAJOR
        if role == Qt.ItemDataRole.ForegroundRole and column == FindingColumn.SEVERITY and major:
            return QColor(semantic().error)
        return None


class FindingsPage(QWidget):
    """Lists findings; records one about the model on screen; admins close open ones."""

    def __init__(
        self,
        host: Host,
        focus: ModelFocus,
        ctx: ConsoleContext,
        runner: TaskRunner,
        controller: GovernanceController,
    ) -> None:
        super().__init__()
        self.host, self.focus, self.ctx = host, focus, ctx
        self.runner, self.controller = runner, controller
        self.dialog: SignDialog | None = None
        self.loaded = False
        intro = QLabel(
            "An auditor's findings: signed notes, each about a model, a version, a request "
            "or a ledger event. Findings signed here wait in your profile until they reach "
            "the ledger: Enter mine in the ledger… where it takes writes, or export them "
            "('gavel findings export') for someone to import. An admin closes an open "
            "finding with a signed resolution."
        )
        intro.setObjectName("Muted")
        intro.setWordWrap(True)
        self.model = FindingsModel(self)
        self.table = row_table(
            self.model, "FindingsTable", widths=((0, 100), (1, 220), (2, 380), (3, 90), (4, 220))
        )
        self.severity = QComboBox()
        for level in Severity:
            self.severity.addItem(level.value.capitalize(), level.value)
        self.about_choice = QComboBox()
        self.about_choice.addItem("the version on screen", FindingSubject.VERSION.value)
        self.about_choice.addItem("the model on screen", FindingSubject.MODEL.value)
        self.about_choice.currentIndexChanged.connect(lambda _i: self._update())
        self.record_button = QPushButton("Record finding…")
        self.record_button.clicked.connect(self.record)
        self.rows: list[FindingRow] = []
        # Beside what findings concern: the model detail, a request, a ledger event.
        self.model_line = _link_label(self._show_findings)
        focus.add_detail_line(self.model_line)
        self._request_view: RequestDetailView | None = None
        self._audit_page: EventPanel | None = None
        self.close_button = QPushButton("Close finding…")
        self.close_button.clicked.connect(self.close_selected)
        # Findings signed here (in a session, or with the team ledger out of reach) wait
        # in the profile; this enters them, signed, once the ledger takes writes.
        self.send_button = QPushButton("Enter mine in the ledger…")
        self.send_button.clicked.connect(self.send_pending)
        actions = QHBoxLayout()
        actions.addWidget(QLabel("Severity"))
        actions.addWidget(self.severity)
        actions.addWidget(QLabel("about"))
        actions.addWidget(self.about_choice)
        actions.addWidget(self.record_button)
        actions.addStretch(1)
        actions.addWidget(self.close_button)
        listing = QWidget()
        lay = QVBoxLayout(listing)
        lay.setContentsMargins(0, 0, 0, 0)
        # Beside the sentence that explains it (the actions row is full at 1024 px).
        top = QHBoxLayout()
        top.addWidget(intro, 1)
        top.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignTop)
        lay.addLayout(top)
        lay.addWidget(self.table, 1)
        self.listing = listing
        self.empty = EmptyState()
        self.stack = QStackedWidget()
        self.stack.addWidget(listing)
        self.stack.addWidget(self.empty)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack, 1)
        layout.addLayout(actions)
        self.table.selectionModel().selectionChanged.connect(lambda *_a: self._update())
        focus.on_focus_changed(self._update)
        focus.on_focus_changed(self._show_lines)
        controller.changed.connect(lambda _d: self._update())
        self.empty.set_content("Reading findings…", "")
        self.stack.setCurrentWidget(self.empty)
        self._update()

    @property
    def selected(self) -> FindingRow | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.finding_at(rows[0].row()) if rows else None

    def reload(self) -> None:
        findings = self.ctx.findings

        def load(_c: CancelToken, _p: ProgressCallback) -> list[FindingRow]:
            return finding_rows(findings.findings(), findings.pending())

        self.runner.run(
            load,
            key="findings-page",
            label="Reading findings",
            on_success=self._shown,
            lane=Lane.LEDGER,
        )

    def _shown(self, rows: list[FindingRow]) -> None:
        self.loaded = True
        self.rows = rows
        self._show_lines()
        self.model.set_rows(rows)
        if rows:
            self.stack.setCurrentWidget(self.listing)
            self.table.selectRow(0)
        else:
            self.stack.setCurrentWidget(self.empty)
            self.empty.set_content(
                "No findings yet",
                "Select a model version in the portfolio, choose a severity and record "
                "what you found; it is signed with your key.",
            )
        self._update()

    def _update(self) -> None:
        on_version = self.about_choice.currentData() == FindingSubject.VERSION.value
        ready = self.focus.version is not None if on_version else self.focus.model is not None
        self.record_button.setEnabled(ready and self.dialog is None)
        self.record_button.setToolTip(
            ""
            if ready
            else "Select a model version in the portfolio first"
            if on_version
            else "Select a model in the portfolio first"
        )
        f = self.selected
        admin = Role.ADMIN in self.controller.data.my_roles
        closable = f is not None and f.on_ledger and f.open and admin
        self.close_button.setVisible(admin)
        self.close_button.setEnabled(closable and self.dialog is None)
        waiting = self.signed_here
        data = self.controller.data
        why = (
            "Every finding signed here is on the ledger."
            if not waiting
            else "Reading the ledger…"
            if not data.loaded
            else f"{data.read_only} Your findings wait here until it answers."
            if data.collecting
            else sign_block_reason(data)
        )
        self.send_button.setText(
            f"Enter mine in the ledger ({waiting})…" if waiting else "Enter mine in the ledger…"
        )
        self.send_button.setEnabled(not why and self.dialog is None)
        self.send_button.setToolTip(
            why
            or "Sign and enter the findings signed here that no ledger holds yet; "
            "those already there are skipped"
        )

    @property
    def signed_here(self) -> int:
        """Findings signed in this profile that no ledger holds yet."""
        return sum(1 for r in self.rows if not r.on_ledger)

    def send_pending(self) -> SignDialog | None:
        """Enter the findings signed here in the ledger (importing is idempotent)."""
        user = self.ctx.identity.user_id()
        waiting = self.signed_here
        if not waiting or not user or self.dialog is not None:
            return None
        findings = self.ctx.findings
        dialog = SignDialog(
            self.runner,
            "Enter findings in the ledger",
            f"Enter the {waiting} finding{'s' if waiting != 1 else ''} signed here in the "
            "audit ledger. Each keeps its author's signature; yours records who entered it. "
            "A finding already on the ledger is skipped; one about something the ledger "
            "does not hold is refused with the reason.",
            user,
            "Sign and enter",
            lambda _text, passphrase: findings.import_findings(findings.pending(), passphrase),
            None,
            self,
        )
        return self._open(dialog)

    def record(self) -> SignDialog | None:
        """A finding about the model or version on screen (as 'about' says)."""
        model, version = self.focus.model, self.focus.version
        if model is None:
            return None
        if self.about_choice.currentData() == FindingSubject.MODEL.value:
            return self.record_about(
                about(FindingSubject.MODEL, registry=model.registry, model=model.name)
            )
        if version is None:
            return None
        return self.record_about(
            about(
                FindingSubject.VERSION,
                registry=model.registry,
                model=model.name,
                version=version.version,
            )
        )

    def record_about(self, subject: Mapping[str, Any]) -> SignDialog | None:
        """Ask for the finding's text, severity and passphrase; sign it and keep it in the
        profile until it is exported."""
        user = self.ctx.identity.user_id()
        if not user or self.dialog is not None:
            if not user:
                self.host.show_status(
                    "A finding is signed with your key: enrol first (Identity → Enroll…)."
                )
            return None
        severity = QComboBox()
        severity.setObjectName("FindingSeverity")
        for level in Severity:
            severity.addItem(level.value.capitalize(), level.value)
        severity.setCurrentIndex(self.severity.currentIndex())
        findings = self.ctx.findings
        dialog = SignDialog(
            self.runner,
            "Record finding",
            f"A finding about <b>{about_text(subject)}</b>.",
            user,
            "Sign finding",
            lambda text, passphrase: findings.record(
                subject, Severity(severity.currentData()), text, passphrase
            ),
            ReasonField("Finding", "What you found, and where you saw it.", True),
            self,
        )
        row = QHBoxLayout()
        row.addWidget(QLabel("Severity"))
        row.addWidget(severity)
        row.addStretch(1)
        box = dialog.layout()
        assert isinstance(box, QVBoxLayout)
        box.insertLayout(2, row)
        dialog.severity = severity  # type: ignore[attr-defined]
        dialog.signer_note.setText(
            f"Signed with the key of <b>{user}</b> and kept in your profile until it is "
            "exported and imported into the ledger."
        )
        return self._open(dialog)

    # -- beside what findings concern ------------------------------------------------

    def attach(self, requests: RequestDetailView, trail: EventPanel) -> None:
        """Record findings about the request and the event on screen, and say there how
        many open findings concern them."""
        self._request_view, self._audit_page = requests, trail
        requests.findings_line.linkActivated.connect(lambda _l: self._show_findings())
        trail.findings_line.linkActivated.connect(lambda _l: self._show_findings())
        requests.shown.connect(lambda _rid: self._show_lines())
        trail.event_selected.connect(lambda _seq: self._show_lines())
        requests.finding_requested.connect(self._about_request)
        trail.finding_requested.connect(self._about_event)

    def _about_request(self, detail: Any) -> None:
        r = detail.view.request
        ident = r.identity
        self.record_about(
            about(
                FindingSubject.REQUEST,
                registry=ident.registry,
                model=ident.model,
                version=ident.version,
                request_id=r.request_id,
            )
        )

    def _about_event(self, event: LedgerEvent) -> None:
        self.record_about(about(FindingSubject.EVENT, seq=event.seq, event_hash=event.hash))

    def _show_lines(self) -> None:
        rows = self.rows
        model, version = self.focus.model, self.focus.version
        text = ""
        if model is not None:
            where = {"registry": model.registry, "model": model.name}
            on_model = open_about(rows, kind=FindingSubject.MODEL.value, **where)
            parts = [count_text(on_model, "this model")]
            if version is not None:
                on_version = open_about(
                    rows, kind=FindingSubject.VERSION.value, version=version.version, **where
                )
                parts.append(count_text(on_version, f"v{version.version}"))
            text = findings_link(parts)
        _set_line(self.model_line, text)
        view = self._request_view
        if view is not None:
            rid = view.request_id
            found = open_about(rows, kind=FindingSubject.REQUEST.value, request_id=rid)
            _set_line(view.findings_line, findings_link([count_text(found)]) if rid else "")
        trail = self._audit_page
        if trail is not None:
            event = trail.selected_event
            found = (
                open_about(rows, kind=FindingSubject.EVENT.value, seq=event.seq, hash=event.hash)
                if event is not None
                else []
            )
            _set_line(trail.findings_line, findings_link([count_text(found, "this event")]))

    def _show_findings(self) -> None:
        self.host.select_page(FINDINGS_PAGE)

    def close_selected(self) -> SignDialog | None:
        f, user = self.selected, self.ctx.identity.user_id()
        if f is None or not f.on_ledger or not f.open or not user:
            return None
        findings = self.ctx.findings
        dialog = SignDialog(
            self.runner,
            "Close finding",
            f"Close the {f.severity} finding about {about_text(f.about)}: “{f.text}”",
            user,
            "Sign resolution",
            lambda text, passphrase: findings.resolve(f.finding_id, text, passphrase),
            ReasonField("Resolution", "How the finding was resolved.", True),
            self,
        )
        return self._open(dialog)

    def _open(self, dialog: SignDialog) -> SignDialog:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _r: self._closed(dialog))
        self.dialog = dialog
        self._update()
        dialog.open()
        return dialog

    def _closed(self, dialog: SignDialog) -> None:
        self.dialog = None
        if dialog.signed:
            result = dialog.result
            if isinstance(result, ImportResult):
                self._entered(result)
            else:
                self.host.show_status(
                    f"Finding closed: ledger event {result.seq}."
                    if isinstance(result, LedgerEvent)
                    else "Finding signed and kept in your profile until it is exported."
                )
            self.controller.refresh()
            self.reload()
        self._update()

    def _entered(self, result: ImportResult) -> None:
        text = (
            f"{len(result.added)} finding(s) entered in the ledger"
            + (f", {len(result.already_recorded)} already there" if result.already_recorded else "")
            + "."
        )
        if result.refused:
            reasons = "; ".join(f"{fid[:8]}: {why}" for fid, why in result.refused)
            self.host.show_notice(f"{text} Refused: {reasons}")
        else:
            self.host.show_status(text)


def _link_label(follow: Any) -> QLabel:
    label = QLabel()
    label.setObjectName("FindingsLine")
    label.setTextFormat(Qt.TextFormat.RichText)
    label.linkActivated.connect(lambda _link: follow())
    label.hide()
    return label


def _set_line(label: QLabel, text: str) -> None:
    label.setText(text)
    label.setVisible(bool(text))


def install_findings_page(
    host: Host,
    focus: ModelFocus,
    ctx: ConsoleContext,
    runner: TaskRunner,
    controller: GovernanceController,
) -> FindingsPage:
    page = FindingsPage(host, focus, ctx, runner, controller)
    host.add_page(
        FINDINGS_PAGE,
        "Findings",
        page,
        tooltip="Auditors' findings: open, resolved, and signed here awaiting import",
    )
    host.on_page_shown(lambda key: page.reload() if key == FINDINGS_PAGE else None)
    # Read once at start, so the lines beside models, requests and events are right
    # before the page is ever opened; again whenever the ledger changed.
    host.after_first_paint(page.reload)
    controller.changed.connect(lambda _d: page.reload())
    return page
