"""Entry point PyInstaller freezes: the same `gavel` command as the installed script."""

from app.cli import main

raise SystemExit(main())
