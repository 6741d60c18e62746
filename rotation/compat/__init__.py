"""Infisical's Secret Rotation v2 routes (``/compat/infisical/api/v2/secret-rotations``) onto our
rotations: the same selectors and services as /api/v1, in Infisical's shapes and error body."""
