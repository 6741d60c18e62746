"""Turning a message into each destination's format, escaping user text for each.

- Slack mrkdwn: ``&``, ``<`` and ``>`` are escaped in every string we did not write, so
  ``<!channel>`` and ``<http://evil|bank>`` arrive inert (``&lt;!channel&gt;``); links (``<url|label>``)
  and buttons are built by us only.
- Teams Adaptive Cards: TextBlock and FactSet text is markdown. User text has markdown's active
  characters backslash-escaped (CommonMark), so ``[x](y)`` is no link and ``<!channel>`` no tag;
  the only link is our ``Action.OpenUrl`` button.
- E-mail: the HTML part comes from a Django template with autoescape; subjects lose newlines.
"""

from __future__ import annotations

import re
from typing import Any

from notifications.channels.base import RenderedMessage

_SEVERITY_EMOJI = {"info": ":information_source:", "warning": ":warning:", "critical": ":rotating_light:"}
_TEAMS_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#!|~])")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x00-\x1f\x7f]+")


def one_line(text: str, limit: int = 200) -> str:
    """*text* on one line (no CR/LF or control characters): subjects, titles, labels."""
    return _LINE_BREAKS.sub(" ", text or "").strip()[:limit]


def slack_escape(text: str) -> str:
    """Slack's three control characters, escaped (https://api.slack.com/reference/surfaces/formatting#escaping)."""
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def teams_escape(text: str) -> str:
    """Markdown's active characters backslash-escaped, for Adaptive Card text."""
    return _TEAMS_SPECIAL.sub(r"\\\1", text or "")


def status_line(message: RenderedMessage) -> str:
    return message.status_text or ("Pending" if message.link else "")


def slack_text(message: RenderedMessage) -> str:
    """The plain fallback ``text`` (notifications, screen readers): escaped too."""
    head = one_line(message.title)
    if message.status_text:
        head += f" — {one_line(message.status_text)}"
    return slack_escape(f"{head}: {one_line(message.summary, 500)}")


def slack_blocks(message: RenderedMessage) -> list[dict[str, Any]]:
    """Block Kit for a message (or a digest)."""
    emoji = _SEVERITY_EMOJI.get(message.severity, _SEVERITY_EMOJI["info"])
    title = slack_escape(one_line(message.title))
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{emoji} *{title}*\n{slack_escape(message.summary)}"}}
    ]
    if message.facts:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{slack_escape(one_line(label, 80))}*\n{slack_escape(value)[:1900]}"}
                    for label, value in message.facts[:10]
                ],
            }
        )
    for item_title, item_summary, item_link in message.digest_items[:40]:
        line = f"• *{slack_escape(one_line(item_title))}* — {slack_escape(one_line(item_summary, 300))}"
        if item_link:
            line += f" <{_slack_url(item_link)}|open>"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": line}})
    if message.status_text:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"*Status:* {slack_escape(one_line(message.status_text))}"}],
            }
        )
    elif message.link:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "*Status:* pending"}]})
    if message.link:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": one_line(message.link_label or "Open", 70)},
                        "url": message.link,
                    }
                ],
            }
        )
    return blocks


def _slack_url(url: str) -> str:
    # Our own absolute links; "|" and ">" would end the link early.
    return url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")


def teams_card(message: RenderedMessage) -> dict[str, Any]:
    """A Teams message with one Adaptive Card attachment."""
    title = one_line(message.title)
    if message.status_text:
        title += f" — {one_line(message.status_text)}"
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": teams_escape(title), "weight": "Bolder", "size": "Medium", "wrap": True},
        {"type": "TextBlock", "text": teams_escape(message.summary), "wrap": True},
    ]
    facts = [
        {"title": teams_escape(one_line(label, 80)), "value": teams_escape(value)} for label, value in message.facts
    ]
    if message.status_text:
        facts.append({"title": "Status", "value": teams_escape(one_line(message.status_text))})
    if facts:
        body.append({"type": "FactSet", "facts": facts})
    for item_title, item_summary, _ in message.digest_items[:40]:
        body.append(
            {
                "type": "TextBlock",
                "text": teams_escape(f"{one_line(item_title)} — {one_line(item_summary, 300)}"),
                "wrap": True,
            }
        )
    content: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.5",
        "body": body,
    }
    if message.link:
        content["actions"] = [
            {"type": "Action.OpenUrl", "title": one_line(message.link_label or "Open", 70), "url": message.link}
        ]
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": content}
        ],
    }


def email_subject(message: RenderedMessage) -> str:
    subject = one_line(message.title, 150)
    if message.status_text:
        subject += f": {one_line(message.status_text, 80)}"
    return f"[Strongroom] {subject}"


def email_parts(message: RenderedMessage) -> tuple[str, str]:
    """(text/plain, text/html) bodies; the HTML one autoescaped by Django's templates."""
    from django.template.loader import render_to_string

    context = {"message": message, "facts": message.facts, "digest_items": message.digest_items}
    return (
        render_to_string("notifications/email.txt", context),
        render_to_string("notifications/email.html", context),
    )
