"""What every room of the console shares: the context and host seams, the task runner,
signals, widgets, item-model bases, formatting, icons and styles, saved settings."""
