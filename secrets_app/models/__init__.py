from __future__ import annotations

from secrets_app.models.access import PersonalAccessToken, TemporaryAccessGrant, UserTOTP
from secrets_app.models.groups import Group, GroupMembership, GroupProjectMembership, GroupSource
from secrets_app.models.identities import (
    AuthMethodKind,
    ClientSecret,
    IdentityAccessToken,
    IdentityProjectMembership,
    JwtAuth,
    KubernetesAuth,
    MachineIdentity,
    TokenSettings,
    UniversalAuth,
)
from secrets_app.models.invitations import Invitation, InvitationStatus, RecoveryCode
from secrets_app.models.keys import DataKey, RootKeyCheck
from secrets_app.models.organizations import Organization, OrganizationMembership, OrgRole
from secrets_app.models.projects import Environment, Project
from secrets_app.models.roles import BuiltinRole, ProjectMembership, Role, RoleRule, RuleEffect
from secrets_app.models.scim import ScimPerson, ScimToken
from secrets_app.models.secrets import (
    Folder,
    FolderCommit,
    FolderCommitHead,
    IdempotencyRecord,
    Secret,
    SecretImport,
    SecretType,
    SecretVersion,
    Tag,
)
from secrets_app.models.sso import OrganizationSso, SsoIdentity
from secrets_app.models.stream_cursors import BookkeepingCursor

__all__ = [
    "ClientSecret",
    "JwtAuth",
    "KubernetesAuth",
    "UniversalAuth",
    "AuthMethodKind",
    "IdentityAccessToken",
    "IdentityProjectMembership",
    "MachineIdentity",
    "TokenSettings",
    "BookkeepingCursor",
    "BuiltinRole",
    "DataKey",
    "Environment",
    "Folder",
    "Group",
    "GroupMembership",
    "GroupProjectMembership",
    "GroupSource",
    "FolderCommit",
    "FolderCommitHead",
    "IdempotencyRecord",
    "Invitation",
    "InvitationStatus",
    "OrgRole",
    "Organization",
    "OrganizationMembership",
    "OrganizationSso",
    "SsoIdentity",
    "PersonalAccessToken",
    "TemporaryAccessGrant",
    "Project",
    "ProjectMembership",
    "RecoveryCode",
    "Role",
    "RoleRule",
    "RootKeyCheck",
    "RuleEffect",
    "ScimPerson",
    "ScimToken",
    "Secret",
    "SecretImport",
    "SecretType",
    "SecretVersion",
    "Tag",
    "UserTOTP",
]
