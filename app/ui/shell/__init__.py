"""The main window: pages, menus, toolbar, banners, status bar, start-up and shutdown,
crash handling; features plug into it through the host protocol."""
