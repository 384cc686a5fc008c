"""The console: windows, dialogs, Qt item models and the background task runner."""
