"""Infisical's dynamic secret and lease routes (``/compat/infisical/api/v1/dynamic-secrets…``) onto the
dynamic secret services and selectors; the shared parsing, auth and errors are ``secrets_app.compat``."""
