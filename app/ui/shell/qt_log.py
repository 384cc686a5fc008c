"""Qt's own messages (warnings about layouts, fonts, threads) into Python logging."""

from __future__ import annotations

import logging

from PySide6.QtCore import QMessageLogContext, QtMsgType, qInstallMessageHandler

log = logging.getLogger("gavel.qt")

_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}


def qt_message_handler(mode: QtMsgType, context: QMessageLogContext, message: str) -> None:
    level = _LEVELS.get(mode, logging.WARNING)
    where = f" ({context.category})" if context.category and context.category != "default" else ""
    log.log(level, "%s%s", message, where)


def install_qt_message_handler() -> object:
    """Route Qt's messages to logging; returns the handler it replaced."""
    return qInstallMessageHandler(qt_message_handler)


def restore_qt_message_handler(previous: object) -> None:
    qInstallMessageHandler(previous)  # type: ignore[arg-type]
