"""The matplotlib canvas and theme the console's charts draw on (imported lazily)."""
