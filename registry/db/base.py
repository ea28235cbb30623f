"""The declarative base, column conventions and constraint names shared by every model."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from sqlalchemy import MetaData, String
from sqlalchemy.orm import DeclarativeBase, mapped_column
from sqlalchemy.types import DateTime


def utcnow() -> datetime:
    return datetime.now(UTC)


# Tag and repository lists are paginated in lexical (byte) order: SQLite's default; PostgreSQL needs "C".
def ordered_string(length: int) -> String:
    return String(length).with_variant(String(length, collation="C"), "postgresql")


intpk = Annotated[int, mapped_column(primary_key=True)]
digest = Annotated[str, mapped_column(String(160))]
created_at = Annotated[datetime, mapped_column(DateTime(timezone=True), default=utcnow)]
# intpk is an INTEGER: 32 bits on PostgreSQL, whose driver refuses a larger parameter outright (SQLite's are
# 64 bits). An id taken from a request is checked against this before it reaches a query.
MAX_ROW_ID = 2**31 - 1


def is_row_id(value: int) -> bool:
    """Whether `value` can be the id of a row (an intpk): anything else matches nothing."""
    return 0 < value <= MAX_ROW_ID


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    })


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored moment is in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
