"""How the core's details say a duration: "30 min", "2 h", "1 h 30 min"."""

from __future__ import annotations

from datetime import timedelta


def span_text(delta: timedelta) -> str:
    """A configured duration for a detail: "30 min", "2 h", or seconds below a minute."""
    seconds = delta.total_seconds()
    if seconds < 60:
        return f"{round(seconds, 1):g} s"
    return minutes_text(delta)


def minutes_text(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"
