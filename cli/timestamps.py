"""Points in time as docker's --since and --until take them (moby api/types/time.GetTimestamp): a duration
before now (`10m`, `1h30m`, `1.5h`, `300ms`), an RFC 3339 time or a shorter form of one (`2024-05-01`,
`2024-05-01T13:04`; local time without a zone), or Unix seconds (`1714567890.5`). As nanoseconds since the
epoch, which is how the json-file log's times compare exactly."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime

DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
LAYOUTS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H", "%Y-%m-%d")
ZONE = re.compile(r"(Z|[+-]\d{2}:?\d{2})$", re.IGNORECASE)
UNIX = re.compile(r"\d+(\.\d{1,9})?")


class BadTimestamp(ValueError):
    pass


def parse_timestamp(text: str, now_ns: int | None = None) -> int:
    """`text` as nanoseconds since the epoch; BadTimestamp if docker would refuse it."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    value = text.strip()
    if UNIX.fullmatch(value):
        seconds, _, fraction = value.partition(".")
        return int(seconds) * 10**9 + int(fraction.ljust(9, "0") or 0)
    duration = _duration(value)
    if duration is not None:
        return now_ns - duration
    return _moment(value)


def entry_time(text: str) -> int:
    """A json-file log time (RFC 3339 with nanoseconds, in UTC) as nanoseconds since the epoch."""
    return _moment(text)


def window(since: str | None, until: str | None) -> Callable[[str], bool]:
    """Whether a log entry's time is at or after `since` and at or before `until` (either may be absent)."""
    now_ns = time.time_ns()
    low = parse_timestamp(since, now_ns) if since else None
    high = parse_timestamp(until, now_ns) if until else None

    def inside(stamp: str) -> bool:
        if low is None and high is None:
            return True
        try:
            moment = entry_time(stamp)
        except BadTimestamp:
            return True
        return (low is None or moment >= low) and (high is None or moment <= high)

    return inside


def _duration(text: str) -> int | None:
    """Go's time.ParseDuration, for the positive durations docker subtracts from now."""
    if not re.fullmatch(f"(?:{DURATION.pattern})+", text):
        return None
    total = 0
    for number, unit in DURATION.findall(text):
        total += int(float(number) * UNITS[unit])
    return total


def _moment(text: str) -> int:
    zone = ZONE.search(text)
    body = text[:zone.start()] if zone else text
    body, _, fraction = body.partition(".")
    if fraction and not fraction.isdigit():
        raise BadTimestamp(text)
    for layout in LAYOUTS:
        try:
            parsed = datetime.strptime(body, layout)
            break
        except ValueError:
            continue
    else:
        raise BadTimestamp(text)
    if zone:
        offset = zone.group(1).upper()
        if offset == "Z":
            parsed = parsed.replace(tzinfo=UTC)
        else:
            parsed = datetime.fromisoformat(body + offset[:3] + ":" + offset[-2:])
    else:
        parsed = parsed.astimezone()  # no zone: local time, as docker reads it
    seconds = int(parsed.timestamp())
    return seconds * 10**9 + int(fraction[:9].ljust(9, "0") or 0)
