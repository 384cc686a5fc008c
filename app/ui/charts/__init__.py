"""Charts drawn with matplotlib on Qt canvases (only the ui layer imports matplotlib)."""
