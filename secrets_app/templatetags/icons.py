"""``{% icon "folder" %}``: an icon from the static sprite ``static/img/icons.svg``, decorative (hidden from
screen readers: the text next to it names the thing). An unknown name is a programming error and raises,
so a typo fails the page's test instead of showing an empty square."""

from __future__ import annotations

from django import template
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

# The symbols the sprite holds (its <symbol id="…">); tests/ui/test_icons.py checks the two agree.
ICONS = frozenset(
    {
        "activity",
        "alert",
        "bell",
        "check-circle",
        "clock",
        "dashboard",
        "download",
        "folder",
        "inbox",
        "key",
        "layers",
        "link",
        "list",
        "lock",
        "logout",
        "plus",
        "robot",
        "rotate",
        "search",
        "shield",
        "sliders",
        "sync",
        "user",
        "users",
        "zap",
    }
)


@register.simple_tag
def icon(name: str, size: str = "") -> SafeString:
    """The icon *name*; *size* ``"large"`` for empty states."""
    if name not in ICONS:
        raise ValueError(f"unknown icon {name!r} (static/img/icons.svg holds {sorted(ICONS)})")
    css = "icon icon-large" if size == "large" else "icon"
    return format_html(
        '<svg class="{}" aria-hidden="true" focusable="false"><use href="{}#{}"></use></svg>',
        css,
        static("img/icons.svg"),
        name,
    )
