"""PostgreSQL dynamic secrets (psycopg 3)."""
