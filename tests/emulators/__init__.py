"""Local wire-level stand-ins for outside systems (see ``../shared/reference/wire-protocols.md``)."""
