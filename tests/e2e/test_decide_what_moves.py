"""Deciding only what can move gives exactly what deciding everything gives (issue 25).

Two reconcilers, each with its own database, follow one simulated stack through seeded random
histories (the world steps of `test_random_lives`: grabs, progress, imports, failures, removed
files, Shoko matches, Jellyfin items listed and removed, declines, deletions, episodes airing,
service faults) and waits of the clock (stuck deadlines passing, an episode airing, a release
date crossed). After every cycle, every row of both databases is compared: the requests, their
episodes and their timelines. One reconciler decides every request every cycle
(`decide_all`), the other only those that can move (`cycle/moving.py`), as a daemon does, in
one process. Both are driven with the same clock and see the same world.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from reconciler.config import load_config
from reconciler.cycle import Reconciler
from reconciler.store import Store
from simstack import SimulatedStack, World
from tests.e2e.test_random_lives import SERVICES, WEIGHTS, Life

STEPS = tuple(name for name, weight in {**WEIGHTS, "wait": 3}.items() for _ in range(weight))
histories = st.lists(st.tuples(st.sampled_from(STEPS), st.integers(0, 119)), min_size=20,
                     max_size=60)


class Pair:
    """The two reconcilers over one world, with one clock."""

    def __init__(self, life: Life, folder: Path) -> None:
        self.life = life
        self.offset = timedelta()
        self.now = datetime.now(UTC)
        self.loop = asyncio.new_event_loop()
        text = life.config.read_text(encoding="utf-8")
        everything = folder / "everything.toml"
        everything.write_text(text.replace(str(life.db), str(folder / "everything.db")),
                              encoding="utf-8")
        everything.chmod(0o600)
        self.reconcilers: list[Reconciler] = []
        for path in (life.config, everything):
            config = load_config(path)
            reconciler = Reconciler(config, Store.open(config.database), clock=lambda: self.now)
            self.reconcilers.append(reconciler)
        self.moving, self.everything = self.reconcilers
        self.everything.decide_all = True
        self.cycles = 0
        self.skipped = 0  # requests the moving one did not decide, summed over cycles

    def close(self) -> None:
        for reconciler in self.reconcilers:
            self.loop.run_until_complete(reconciler.aclose())
            reconciler.store.close()
        self.loop.close()

    def cycle(self) -> None:
        world = self.life.world
        self.now = max(world.now, datetime.now(UTC)) + self.offset
        results = [self.loop.run_until_complete(r.cycle()) for r in self.reconcilers]
        self.cycles += 1
        self.skipped += results[1].decided - results[0].decided
        assert results[0].ok == results[1].ok
        mine, theirs = (_rows(r.store.conn) for r in self.reconcilers)
        for table in mine:
            assert mine[table] == theirs[table], (
                f"{table} differ after cycle {self.cycles} of {self.life.log}")

    def wait(self, pick: int) -> None:
        """The clock moves on (minutes to a day and more), nothing else does."""
        self.offset += timedelta(minutes=[7, 20, 45, 90, 150, 400, 1500][pick % 7])


def _rows(conn: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "requests": [tuple(r) for r in conn.execute("SELECT * FROM requests ORDER BY id")],
        "episodes": [tuple(r) for r in conn.execute(
            "SELECT * FROM episodes ORDER BY request_id, season, episode")],
        # In one cycle the two decide requests in different orders: each request's own
        # timeline is compared, in order.
        "timeline": [tuple(r) for r in conn.execute(
            "SELECT request_id, at, from_state, to_state, via, detail FROM timeline "
            "ORDER BY request_id, id")],
    }


def live(steps: list[tuple[str, int]]) -> int:
    """Run one history; returns how many decisions the moving reconciler skipped."""
    with tempfile.TemporaryDirectory() as tmp, SimulatedStack(World()) as stack:
        life = Life(stack, Path(tmp))
        pair = Pair(life, Path(tmp))
        try:
            pair.cycle()
            for name, pick in steps:
                if name == "cycle":
                    pair.cycle()
                elif name == "wait":
                    pair.wait(pick)
                    pair.cycle()
                elif name == "fault":
                    service = SERVICES[pick % len(SERVICES)]
                    stack.set_fault(service, "status", code=503)
                    pair.cycle()
                    stack.clear_fault(service)
                else:
                    life.step(name, pick)
            pair.cycle()
            pair.cycle()
            return pair.skipped
        finally:
            pair.close()


# No shrinking: a failure names the history (the life's log) and the cycle.
@settings(max_examples=12, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
@given(histories)
# A film through a download stalled past its deadline, an import, a match and a removal; the
# show's next episode airing an hour on, and a day passing with nothing else happening.
@example([("grab", 0), ("progress", 4), ("cycle", 0), ("wait", 5), ("wait", 4),
          ("complete", 0), ("import", 0), ("cycle", 0), ("wait", 1), ("jf_real", 0),
          ("cycle", 0), ("show_grab", 0), ("cycle", 0), ("wait", 3), ("show_airs", 0),
          ("wait", 6), ("jf_remove", 0), ("cycle", 0), ("cycle", 0), ("wait", 2),
          ("fault", 8), ("cycle", 0)])
def test_deciding_what_moves_equals_deciding_everything(steps: list[tuple[str, int]]) -> None:
    live(steps)


def test_a_quiet_stack_is_not_decided_again() -> None:
    """The comparison above is not vacuous: in a quiet cycle the moving reconciler decides
    fewer requests than the one deciding everything (here none: nothing is active)."""
    skipped = live([("import", 1), ("jf_real", 1), ("cycle", 0), ("cycle", 0), ("cycle", 0)])
    assert skipped > 0
