"""Finding an organization's SSO configuration when someone starts signing in (no principal yet:
these answer only whether and where single sign-on starts, never the configuration's content)."""

from __future__ import annotations

from secrets_app.models import OrganizationSso


def sso_config_for_email(email: str) -> OrganizationSso | None:
    """The configuration of the organization that signs in people of *email*'s domain, or None."""
    domain = (email or "").strip().lower().rpartition("@")[2]
    if not domain:
        return None
    # Matched in Python: JSON containment is not available on SQLite (the embedded database), and
    # an installation has a handful of SSO configurations at most.
    for config in OrganizationSso.objects.select_related("organization").order_by("id"):
        if domain in config.allowed_domains:
            return config
    return None


def sso_config_for_slug(slug: str) -> OrganizationSso | None:
    return OrganizationSso.objects.filter(organization__slug=slug).select_related("organization").first()
