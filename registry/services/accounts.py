"""Users, organizations, teams, robots and repository visibility (Docker Hub's account model).

Functions raise AccountError (services/errors.py) with a one-line reason for anything a caller got wrong
(a taken name, an unknown user); the CLI prints it, the JSON API answers 4xx with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.accounts import AccessToken, Namespace, Robot, RobotPermission, Team, TeamMember, TeamPermission, User
from ..db.database import rowcount
from ..db.models import Repository
from .access import LEVELS, OFFICIAL_NAMESPACE, OWNERS_TEAM, namespace_of
from .credentials import REFRESH, hash_password, new_secret, secret_hash
from .errors import AccountError, NotFound
from .repositories import ensure_repository
from .web_sessions import end_user_sessions

ACCOUNT_NAME = re.compile(r"[a-z0-9]{4,30}")  # Docker Hub's rule for users and organizations
TEAM_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,29}")
RESERVED = frozenset({OFFICIAL_NAMESPACE})
USER, ORGANIZATION = "user", "organization"


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: int
    name: str
    email: str | None
    is_admin: bool


def check_account_name(name: str) -> str:
    if not ACCOUNT_NAME.fullmatch(name):
        raise AccountError(f"invalid name {name[:40]!r}: use 4 to 30 lowercase letters and digits")
    if name in RESERVED:
        raise AccountError(f"the name {name!r} is reserved")
    return name


async def _new_namespace(session: AsyncSession, name: str, kind: str) -> Namespace:
    check_account_name(name)
    if await session.scalar(select(Namespace.id).where(Namespace.name == name)) is not None:
        raise AccountError(f"the name {name!r} is taken")
    namespace = Namespace(name=name, kind=kind)
    session.add(namespace)
    await session.flush()
    return namespace


async def create_user(session: AsyncSession, name: str, password: str, *, email: str | None = None,
                      is_admin: bool = False) -> UserInfo:
    if len(password) < 8:
        raise AccountError("the password must have at least 8 characters")
    namespace = await _new_namespace(session, name, USER)
    session.add(User(id=namespace.id, email=email, password_hash=hash_password(password), is_admin=is_admin))
    await session.flush()
    return UserInfo(namespace.id, name, email, is_admin)


async def get_user(session: AsyncSession, name: str) -> UserInfo:
    row = (await session.execute(select(User, Namespace.name).join(Namespace, Namespace.id == User.id)
                                 .where(Namespace.name == name))).first()
    if row is None:
        raise NotFound(f"no user {name!r}")
    return UserInfo(row[0].id, row[1], row[0].email, row[0].is_admin)


async def list_users(session: AsyncSession) -> list[UserInfo]:
    rows = await session.execute(select(User, Namespace.name).join(Namespace, Namespace.id == User.id)
                                 .order_by(Namespace.name))
    return [UserInfo(u.id, name, u.email, u.is_admin) for u, name in rows]


async def count_admins(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(User).where(User.is_admin)) or 0


async def set_password(session: AsyncSession, name: str, password: str) -> None:
    if len(password) < 8:
        raise AccountError("the password must have at least 8 characters")
    user = await get_user(session, name)
    await session.execute(update(User).where(User.id == user.id).values(password_hash=hash_password(password)))
    # Sessions logged in with the old password end (docker's identity tokens, browsers); access tokens stay.
    await session.execute(delete(AccessToken).where(AccessToken.user_id == user.id, AccessToken.kind == REFRESH))
    await end_user_sessions(session, user.id)


async def delete_user(session: AsyncSession, name: str) -> None:
    user = await get_user(session, name)
    await session.execute(delete(Namespace).where(Namespace.id == user.id))  # cascades to the user's rows


async def create_organization(session: AsyncSession, name: str, owner: str) -> None:
    """An organization and its owners team, with `owner` in it."""
    owner_info = await get_user(session, owner)
    namespace = await _new_namespace(session, name, ORGANIZATION)
    team = Team(organization_id=namespace.id, name=OWNERS_TEAM)
    session.add(team)
    await session.flush()
    session.add_all([TeamMember(team_id=team.id, user_id=owner_info.id),
                     TeamPermission(team_id=team.id, repository_id=None, permission="admin")])


async def _organization_id(session: AsyncSession, name: str) -> int:
    org_id = await session.scalar(select(Namespace.id).where(Namespace.name == name,
                                                             Namespace.kind == ORGANIZATION))
    if org_id is None:
        raise NotFound(f"no organization {name!r}")
    return org_id


async def _team_id(session: AsyncSession, organization: str, team: str) -> int:
    org_id = await _organization_id(session, organization)
    team_id = await session.scalar(select(Team.id).where(Team.organization_id == org_id, Team.name == team))
    if team_id is None:
        raise NotFound(f"no team {team!r} in {organization!r}")
    return team_id


def _check_permission(permission: str) -> str:
    if permission not in LEVELS:
        raise AccountError(f"unknown permission {permission!r} (use read, write or admin)")
    return permission


async def create_team(session: AsyncSession, organization: str, name: str, permission: str | None = None) -> None:
    """A team, with `permission` on the whole organization when given."""
    if not TEAM_NAME.fullmatch(name):
        raise AccountError(f"invalid team name {name[:40]!r}")
    org_id = await _organization_id(session, organization)
    if await session.scalar(select(Team.id).where(Team.organization_id == org_id, Team.name == name)):
        raise AccountError(f"team {name!r} already exists in {organization!r}")
    team = Team(organization_id=org_id, name=name)
    session.add(team)
    await session.flush()
    if permission:
        session.add(TeamPermission(team_id=team.id, repository_id=None, permission=_check_permission(permission)))


async def add_team_member(session: AsyncSession, organization: str, team: str, user: str) -> None:
    team_id = await _team_id(session, organization, team)
    user_id = (await get_user(session, user)).id
    if await session.get(TeamMember, (team_id, user_id)) is None:
        session.add(TeamMember(team_id=team_id, user_id=user_id))


async def remove_team_member(session: AsyncSession, organization: str, team: str, user: str) -> None:
    team_id = await _team_id(session, organization, team)
    user_id = (await get_user(session, user)).id
    await session.execute(delete(TeamMember).where(TeamMember.team_id == team_id, TeamMember.user_id == user_id))


async def grant_team(session: AsyncSession, organization: str, team: str, permission: str,
                     repository: str | None = None) -> None:
    """Give a team `permission` on one repository of the organization, or on all of it."""
    team_id = await _team_id(session, organization, team)
    repository_id = await _repository_in(session, organization, repository) if repository else None
    await session.execute(delete(TeamPermission).where(
        TeamPermission.team_id == team_id,
        TeamPermission.repository_id.is_(None) if repository_id is None
        else TeamPermission.repository_id == repository_id))
    session.add(TeamPermission(team_id=team_id, repository_id=repository_id, permission=_check_permission(permission)))


async def _repository_in(session: AsyncSession, organization: str, repository: str) -> int:
    if namespace_of(repository) != organization:
        raise AccountError(f"{repository!r} is not a repository of {organization!r}")
    return await ensure_repository(session, repository)


async def create_robot(session: AsyncSession, organization: str, name: str) -> str:
    """A robot account; returns its secret (shown once). It logs in as "<organization>+<name>"."""
    if not TEAM_NAME.fullmatch(name):
        raise AccountError(f"invalid robot name {name[:40]!r}")
    org_id = await _organization_id(session, organization)
    if await session.scalar(select(Robot.id).where(Robot.organization_id == org_id, Robot.name == name)):
        raise AccountError(f"robot {name!r} already exists in {organization!r}")
    secret = new_secret("robot")
    session.add(Robot(organization_id=org_id, name=name, secret_hash=secret_hash(secret)))
    return secret


async def grant_robot(session: AsyncSession, organization: str, name: str, repository: str, permission: str) -> None:
    org_id = await _organization_id(session, organization)
    robot_id = await session.scalar(select(Robot.id).where(Robot.organization_id == org_id, Robot.name == name))
    if robot_id is None:
        raise NotFound(f"no robot {name!r} in {organization!r}")
    repository_id = await _repository_in(session, organization, repository)
    await session.execute(delete(RobotPermission).where(RobotPermission.robot_id == robot_id,
                                                        RobotPermission.repository_id == repository_id))
    session.add(RobotPermission(robot_id=robot_id, repository_id=repository_id,
                                permission=_check_permission(permission)))


async def set_visibility(session: AsyncSession, repository: str, private: bool) -> None:
    if await session.scalar(select(Repository.id).where(Repository.name == repository)) is None:
        raise NotFound(f"no repository {repository!r}")
    await session.execute(update(Repository).where(Repository.name == repository).values(is_private=private))


async def set_default_visibility(session: AsyncSession, namespace: str, private: bool) -> None:
    """Whether new repositories of `namespace` start private (public by default)."""
    result = await session.execute(update(Namespace).where(Namespace.name == namespace)
                                   .values(default_private=private))
    if rowcount(result) == 0:
        raise NotFound(f"no user or organization {namespace!r}")


# -- Lookups for the JSON API (registry/api/hub): who may manage what, and what an organization holds.

OWNER, MEMBER = "owner", "member"


@dataclass(frozen=True, slots=True)
class TeamInfo:
    name: str
    permission: str | None  # on the whole organization
    members: tuple[str, ...]
    repositories: dict[str, str]  # repository -> permission


@dataclass(frozen=True, slots=True)
class RobotInfo:
    name: str
    username: str  # what it logs in as: "<organization>+<name>"
    repositories: dict[str, str]


@dataclass(frozen=True, slots=True)
class OrganizationInfo:
    name: str
    teams: tuple[TeamInfo, ...]
    robots: tuple[RobotInfo, ...]


async def namespace_kind(session: AsyncSession, name: str) -> str | None:
    """USER or ORGANIZATION when a namespace is called `name` (the two share one set of names), else None."""
    return await session.scalar(select(Namespace.kind).where(Namespace.name == name))


async def organization_role(session: AsyncSession, organization: str, user_id: int) -> str | None:
    """OWNER if the user is in the organization's owners team, MEMBER if in another of its teams, else
    None (also when there is no such organization)."""
    teams = set(await session.scalars(
        select(Team.name).join(TeamMember, TeamMember.team_id == Team.id)
        .join(Namespace, Namespace.id == Team.organization_id)
        .where(Namespace.name == organization, Namespace.kind == ORGANIZATION, TeamMember.user_id == user_id)))
    return OWNER if OWNERS_TEAM in teams else MEMBER if teams else None


async def team_exists(session: AsyncSession, organization: str, team: str) -> bool:
    try:
        await _team_id(session, organization, team)
    except NotFound:
        return False
    return True


async def robot_exists(session: AsyncSession, organization: str, name: str) -> bool:
    return await session.scalar(select(Robot.id).join(Namespace, Namespace.id == Robot.organization_id)
                                .where(Namespace.name == organization, Robot.name == name)) is not None


async def describe_organization(session: AsyncSession, organization: str) -> OrganizationInfo:
    """The organization's teams (members, permissions) and robots (permissions), by name."""
    org_id = await _organization_id(session, organization)
    teams = dict((await session.execute(select(Team.id, Team.name).where(Team.organization_id == org_id)
                                        .order_by(Team.name))).all())
    members: dict[int, list[str]] = {team_id: [] for team_id in teams}
    for team_id, user in await session.execute(
            select(TeamMember.team_id, Namespace.name).join(Namespace, Namespace.id == TeamMember.user_id)
            .where(TeamMember.team_id.in_(teams)).order_by(Namespace.name)):
        members[team_id].append(user)
    whole: dict[int, str] = {}
    granted: dict[int, dict[str, str]] = {team_id: {} for team_id in teams}
    for team_id, permission, repository in await session.execute(
            select(TeamPermission.team_id, TeamPermission.permission, Repository.name)
            .outerjoin(Repository, Repository.id == TeamPermission.repository_id)
            .where(TeamPermission.team_id.in_(teams)).order_by(Repository.name)):
        if repository is None:
            whole[team_id] = permission
        else:
            granted[team_id][repository] = permission
    robots = dict((await session.execute(select(Robot.id, Robot.name).where(Robot.organization_id == org_id)
                                         .order_by(Robot.name))).all())
    robot_grants: dict[int, dict[str, str]] = {robot_id: {} for robot_id in robots}
    for robot_id, permission, repository in await session.execute(
            select(RobotPermission.robot_id, RobotPermission.permission, Repository.name)
            .join(Repository, Repository.id == RobotPermission.repository_id)
            .where(RobotPermission.robot_id.in_(robots)).order_by(Repository.name)):
        robot_grants[robot_id][repository] = permission
    return OrganizationInfo(
        organization,
        tuple(TeamInfo(name, whole.get(tid), tuple(members[tid]), granted[tid]) for tid, name in teams.items()),
        tuple(RobotInfo(name, f"{organization}+{name}", robot_grants[rid]) for rid, name in robots.items()))
