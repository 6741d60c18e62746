"""The icon sprite and the ``{% icon %}`` tag agree: every name the tag accepts is a symbol of the sprite."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.template import Context, Template

from secrets_app.templatetags.icons import ICONS

SPRITE = Path(__file__).resolve().parents[2] / "static/img/icons.svg"


def test_it_draws_every_icon_the_tag_names_from_the_sprite() -> None:
    symbols = set(re.findall(r'<symbol id="([a-z-]+)"', SPRITE.read_text(encoding="utf-8")))

    assert symbols == set(ICONS)
    html = Template('{% load icons %}{% icon "folder" %}').render(Context())
    assert 'aria-hidden="true"' in html and 'href="/static/img/icons.svg#folder"' in html


def test_an_unknown_icon_fails_the_page_instead_of_drawing_nothing() -> None:
    with pytest.raises(ValueError, match="unknown icon 'folders'"):
        Template('{% load icons %}{% icon "folders" %}').render(Context())
