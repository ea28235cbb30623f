"""Who may do what to a repository: Docker Hub's model of namespaces, teams, robots and visibility.

A caller's level on a repository is the highest of: admin (site admins, and a user in its own
namespace), what its teams grant in an organization (the owners team administers it), what a robot
was granted, and read for everyone on an existing public repository (official `library/` and
single-component names are public and writable by site admins only). A repository that does not exist
grants nothing to a caller who could not create it: so a private repository and a missing one look the
same. An access token's scope caps the level.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, not_, or_, select, true

from ..db.accounts import Namespace, RobotPermission, Team, TeamMember, TeamPermission
from ..db.models import Repository
from ..db.readpath import Reader

NONE, READ, WRITE, ADMIN = 0, 1, 2, 3
LEVELS = {"read": READ, "write": WRITE, "admin": ADMIN}
LEVEL_NAMES = {v: k for k, v in LEVELS.items()}
# What each level may do, in the actions of the Docker token spec's scopes.
ACTIONS = {NONE: frozenset(), READ: frozenset({"pull"}), WRITE: frozenset({"pull", "push"}),
           ADMIN: frozenset({"pull", "push", "delete"})}
OFFICIAL_NAMESPACE = "library"
OWNERS_TEAM = "owners"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling. The anonymous caller has no name."""
    name: str = ""
    user_id: int | None = None
    robot_id: int | None = None
    robot_organization: str = ""
    is_admin: bool = False
    max_level: int = ADMIN  # an access token's scope

    @property
    def anonymous(self) -> bool:
        return not self.name


ANONYMOUS = Principal()


def namespace_of(repository: str) -> str:
    head, sep, _ = repository.partition("/")
    return head if sep else OFFICIAL_NAMESPACE


def actions_for(level: int) -> frozenset[str]:
    return ACTIONS[level]


async def repository_level(session: Reader, principal: Principal, repository: str) -> int:
    """The caller's level on `repository` (NONE..ADMIN), capped by its token's scope."""
    row = (await session.execute(select(Repository.id, Repository.is_private)
                                 .where(Repository.name == repository))).first()
    repository_id, is_private = (row[0], row[1]) if row else (None, True)
    level = await _granted_level(session, principal, repository, repository_id)
    if row is not None and (not is_private or namespace_of(repository) == OFFICIAL_NAMESPACE):
        level = max(level, READ)
    return min(level, principal.max_level)


async def _granted_level(session: Reader, principal: Principal, repository: str,
                         repository_id: int | None) -> int:
    namespace = namespace_of(repository)
    if principal.is_admin:
        return ADMIN
    if principal.user_id is not None:
        if principal.name == namespace:
            return ADMIN
        rows = await session.execute(
            select(Team.name, TeamPermission.permission)
            .join(TeamMember, TeamMember.team_id == Team.id)
            .join(TeamPermission, TeamPermission.team_id == Team.id)
            .join(Namespace, Namespace.id == Team.organization_id)
            .where(Namespace.name == namespace, TeamMember.user_id == principal.user_id,
                   or_(TeamPermission.repository_id.is_(None), TeamPermission.repository_id == repository_id)))
        return max((ADMIN if team == OWNERS_TEAM else LEVELS[perm] for team, perm in rows), default=NONE)
    if principal.robot_id is not None and repository_id is not None and principal.robot_organization == namespace:
        permission = await session.scalar(select(RobotPermission.permission).where(
            RobotPermission.robot_id == principal.robot_id, RobotPermission.repository_id == repository_id))
        return LEVELS.get(permission or "", NONE)
    return NONE


async def readable_condition(session: Reader, principal: Principal) -> ColumnElement[bool]:
    """A condition on Repository rows that holds exactly where `repository_level(...) >= READ` would,
    for listings (catalog, search, pages) that must filter thousands of rows in one query."""
    if principal.is_admin:
        return true()
    official = or_(Repository.name.startswith(OFFICIAL_NAMESPACE + "/", autoescape=True),
                   not_(Repository.name.contains("/")))
    allowed = [Repository.is_private.is_(False), official]
    if principal.user_id is not None:
        allowed.append(Repository.name.startswith(principal.name + "/", autoescape=True))
        rows = await session.execute(
            select(Namespace.name, TeamPermission.repository_id)
            .join(Team, Team.organization_id == Namespace.id)
            .join(TeamMember, TeamMember.team_id == Team.id)
            .join(TeamPermission, TeamPermission.team_id == Team.id)
            .where(TeamMember.user_id == principal.user_id))
        for organization, repository_id in rows:
            allowed.append(Repository.id == repository_id if repository_id is not None
                           else Repository.name.startswith(organization + "/", autoescape=True))
    if principal.robot_id is not None:
        granted = select(RobotPermission.repository_id).where(RobotPermission.robot_id == principal.robot_id)
        allowed.append(and_(Repository.id.in_(granted),
                            Repository.name.startswith(principal.robot_organization + "/", autoescape=True)))
    return or_(*allowed)
