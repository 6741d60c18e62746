"""Native REST API for app connections and secret syncs (included by config/urls.py)."""
