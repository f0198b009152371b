"""pytest plugin of the watcher."""
