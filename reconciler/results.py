"""What one cycle did: each service's poll outcome and the requests that changed state.

A lower layer than the cycle, so that those who report on cycles (the HTTP endpoint's metrics,
the demo) read its result without importing the cycle itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass
class PollOutcome:
    """One service's poll: whether it answered, what it cost, the cursor it leaves."""

    service: str
    ok: bool
    error: str | None = None
    calls: int = 0
    bytes: int = 0
    watermark: datetime | None = None
    full: bool = False
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished: datetime | None = None


@dataclass(frozen=True)
class Transition:
    """A request that moved: from `from_state` (None when first seen) to `to_state`."""

    request_id: int
    from_state: str | None
    to_state: str
    via: str


@dataclass
class CycleResult:
    polls: dict[str, PollOutcome]
    transitions: list[Transition]
    rows_written: int
    nudges: list[str]
    decided: int = 0  # requests decided (`cycle.moving`: those that could move, or all)

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.polls.values())

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 3

    @property
    def failed(self) -> list[str]:
        return [s for s, p in self.polls.items() if not p.ok]
