"""The ``strongroom`` command-line client (standard library only, Python 3.9+)."""

__version__ = "0.1.0"
