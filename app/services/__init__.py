"""Use cases. Blocking and thread-safe; long ones take a progress callback and a
cancel token. No Qt here: the UI runs these in its workers."""
