"""Kinds that exist only in tests, one folder per family, each declared as a real kind would be
(the family's base class, its fields, its I/O). Their outside system is an in-memory record in the
kind's own module: these kinds prove what the registries derive, not a wire protocol."""
