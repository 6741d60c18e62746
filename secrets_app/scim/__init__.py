"""SCIM 2.0 provisioning endpoint (RFC 7643/7644) at ``/scim/v2/``: the subset Microsoft Entra ID's
provisioning service uses. Thin views over ``services.scim`` and ``selectors.scim``."""
