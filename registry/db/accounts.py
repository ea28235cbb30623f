"""Accounts and access: namespaces (users and organizations), teams, robots, tokens, keys, audit.

Docker Hub's model: every user and every organization owns the namespace of its name; a repository
`ns/name` belongs to namespace `ns`. Credentials (passwords, access tokens, robot secrets, refresh
tokens) are stored only as hashes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import DateTime

from .base import Base, created_at, intpk, ordered_string


class Namespace(Base):
    """A user's or an organization's name space for repositories."""
    __tablename__ = "namespace"
    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(ordered_string(30), unique=True)
    kind: Mapped[str] = mapped_column(String(12))  # "user" or "organization"
    default_private: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[created_at]


class User(Base):
    """A person who logs in; the user's name is its namespace's name."""
    __tablename__ = "user_account"
    id: Mapped[int] = mapped_column(ForeignKey("namespace.id", ondelete="CASCADE"), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[created_at]


class Team(Base):
    __tablename__ = "team"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)
    id: Mapped[intpk]
    organization_id: Mapped[int] = mapped_column(ForeignKey("namespace.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[created_at]


class TeamMember(Base):
    __tablename__ = "team_member"
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)


class TeamPermission(Base):
    """A team's permission on the whole organization (no repository) or on one of its repositories."""
    __tablename__ = "team_permission"
    __table_args__ = (UniqueConstraint("team_id", "repository_id"),)
    id: Mapped[intpk]
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"))
    repository_id: Mapped[int | None] = mapped_column(ForeignKey("repository.id", ondelete="CASCADE"))
    permission: Mapped[str] = mapped_column(String(8))  # read, write, admin


class Robot(Base):
    """An organization's machine account; it logs in as "<org>+<name>" with its secret."""
    __tablename__ = "robot"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)
    id: Mapped[intpk]
    organization_id: Mapped[int] = mapped_column(ForeignKey("namespace.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(30))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[created_at]


class RobotPermission(Base):
    __tablename__ = "robot_permission"
    robot_id: Mapped[int] = mapped_column(ForeignKey("robot.id", ondelete="CASCADE"), primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repository.id", ondelete="CASCADE"), primary_key=True)
    permission: Mapped[str] = mapped_column(String(8))


class AccessToken(Base):
    """A personal access token, or (kind "refresh") the refresh token of an offline login."""
    __tablename__ = "access_token"
    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # "personal" or "refresh"
    label: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of a 256-bit random secret
    scope: Mapped[str] = mapped_column(String(20))  # read, read-write, read-write-delete
    created_at: Mapped[created_at]
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SigningKey(Base):
    """A key that signs registry tokens. Retired keys stop signing but keep verifying until tokens expire."""
    __tablename__ = "signing_key"
    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[created_at]
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginFailure(Base):
    """Failed logins counted per account or per client address, in a fixed window."""
    __tablename__ = "login_failure"
    key: Mapped[str] = mapped_column(String(300), primary_key=True)  # "account:<name>" or "address:<ip>"
    count: Mapped[int]
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditEvent(Base):
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_at", "at"),)
    id: Mapped[intpk]
    at: Mapped[created_at]
    actor: Mapped[str] = mapped_column(String(100))  # user or robot name, or "" for anonymous
    action: Mapped[str] = mapped_column(String(40))  # login, login_failed, token_issued, push, delete, ...
    target: Mapped[str] = mapped_column(String(300), default="")
    address: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[str] = mapped_column(Text, default="")  # JSON
