"""htmx pages for connections and syncs."""
