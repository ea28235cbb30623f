"""How docker words sizes and times in its tables (go-units HumanSizeWithPrecision and HumanDuration,
Go's time.Time.String()), and the image and container records' RFC 3339 times read back."""

from __future__ import annotations

TYPE_CHECKING = False  # typing's own flag without loading typing (`berth run` starts faster)
if TYPE_CHECKING:
    from datetime import datetime
    from typing import Any


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    from datetime import UTC, datetime  # here: `berth run` shows no times

    try:
        found = datetime.fromisoformat(value)
    except ValueError:
        return None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def human_size(size: float, precision: int = 3) -> str:
    """Decimal units with `precision` significant digits: 4261550 -> '4.26MB' (docker's SIZE)."""
    unit = 0
    while size >= 1000 and unit < len(_UNITS) - 1:
        size /= 1000
        unit += 1
    return f"{size:.{precision}g}{_UNITS[unit]}"


def human_duration(seconds: float) -> str:
    """docker's words for a span of time: '2 hours', 'About a minute', '3 weeks'."""
    whole = int(seconds)
    if whole < 1:
        return "Less than a second"
    if whole == 1:
        return "1 second"
    if whole < 60:
        return f"{whole} seconds"
    minutes = whole // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{whole // 3600 // 24 // 365} years"


def created_since(created: datetime | None, now: datetime | None = None) -> str:
    if created is None or created.timestamp() <= 0:
        return "N/A"
    from datetime import UTC, datetime

    return human_duration(((now or datetime.now(UTC)) - created).total_seconds()) + " ago"


def created_at(created: datetime | None) -> str:
    """Go's time.Time.String() in UTC, as docker's CreatedAt column."""
    if created is None:
        return "N/A"
    from datetime import UTC

    return created.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def rfc3339(created: datetime | None) -> str:
    if created is None:
        return "0001-01-01T00:00:00Z"
    from datetime import UTC

    return created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
