"""How a refusal names an action to a person: "You are not allowed to <phrase> here".

One short verb phrase per action of ``rules.ACTIONS`` (a test keeps the two in step); an action
without one (a future action) falls back to its description, lower-cased — never the dotted name.
"""

from __future__ import annotations

from secrets_app.policy.rules import ACTIONS

ACTION_PHRASES: dict[str, str] = {
    "secrets.read": "list the secrets",
    "secrets.read_value": "read secret values",
    "secrets.create": "create secrets",
    "secrets.edit": "change secrets",
    "secrets.delete": "delete secrets",
    "secrets.rollback": "roll secrets back to earlier versions",
    "folders.read": "list the folders",
    "folders.create": "create folders",
    "folders.edit": "rename folders",
    "folders.delete": "delete folders",
    "imports.read": "list the secret imports",
    "imports.create": "create secret imports",
    "imports.delete": "delete secret imports",
    "environments.manage": "manage the project's environments",
    "tags.manage": "manage tags",
    "members.read": "list the project's members",
    "members.manage": "manage the project's members",
    "roles.read": "list the project's roles",
    "roles.manage": "manage custom roles",
    "project.edit": "rename the project",
    "project.delete": "delete the project",
    "audit.read": "read the project's audit log",
    "syncs.read": "see the secret syncs",
    "syncs.manage": "manage secret syncs",
    "approvals.manage": "manage approval policies",
    "dynamic_secrets.manage": "manage dynamic secrets",
    "rotations.manage": "manage credential rotations",
    "rotations.rotate": "rotate credentials",
    "governance.read": "see the governance figures",
    "governance.manage": "manage governance (quarantine, leak flags, policy)",
}


def action_phrase(action: str) -> str:
    """The verb phrase for *action* ("read the project's audit log" for ``audit.read``)."""
    phrase = ACTION_PHRASES.get(action)
    if phrase:
        return phrase
    description = ACTIONS.get(action)
    if description:
        return description[0].lower() + description[1:]
    return "do this"
