"""MySQL / MariaDB dynamic secrets (PyMySQL)."""
