"""Infisical-compatible HTTP adapter, mounted at ``/compat/infisical/``.

A thin translation: requests are parsed into the same services and selectors the native API uses
(permissions, encryption and audit live there, never here), and answers are shaped the way
Infisical's own clients parse them (``docs/compat.md``).
"""
