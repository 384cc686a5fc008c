"""Entry point PyInstaller freezes: the same `gavel` command as the installed script."""

import multiprocessing

from app.cli import main

if __name__ == "__main__":
    # The console syncs in a child process; a frozen app dispatches to it here.
    multiprocessing.freeze_support()
    raise SystemExit(main())
