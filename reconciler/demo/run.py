"""`reconcile demo`: the real daemon against the simulated stack, while a script plays out five
requests (`reconciler.demo.script`). Shows the requests as they move (a live table on a
terminal, one line per change otherwise), then each request's timeline; exits 0 when every
request ended as scripted, 1 otherwise.

`reconcile demo --serve` starts the same stack and script, writes the config and waits, so the
commands (`--once`, `status`, `show`, `doctor`, the daemon and its HTTP endpoints) can be tried
by hand against it.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import structlog

from reconciler import logs, registry
from reconciler.demo.presenters import (
    Event,
    LivePresenter,
    PlainPresenter,
    Presenter,
    request_label,
)
from reconciler.demo.script import SPIRITED, DemoScript
from reconciler.demo.serve import serve_stage, stop_on_signals
from reconciler.demo.stage import Stage, start_stage
from reconciler.demo.summary import header, summary
from reconciler.lock import DatabaseLock
from reconciler.results import CycleResult
from reconciler.states import RequestState
from reconciler.store import RequestRow, Store

MAX_SPEED = 20.0
FIRST_CYCLE_TIMEOUT = 15.0
# Files the demo writes into its working folder (and replaces when they are there already).
OWN_FILES = ("config.toml", "reconciler.db", "reconciler.db-wal", "reconciler.db-shm",
             "reconciler.db.lock", "reconciler.log")


def run_demo(speed: float = 1.0, workdir: str | None = None, serve: bool = False, *,
             stop: threading.Event | None = None, media: str = "jellyfin") -> int:
    """`reconcile demo` (`media`: the media server, "jellyfin", "emby" or "plex"). `stop` ends
    a `--serve` run from another thread (tests, embedding); otherwise SIGINT/SIGTERM do."""
    if not 0 < speed <= MAX_SPEED:
        print(f"reconcile demo: --speed must be above 0 and at most {MAX_SPEED:g}",
              file=sys.stderr)
        return 2
    try:
        with _workdir(workdir) as folder:
            if serve:
                return _serve(folder, speed, kept=workdir is not None, stop=stop, media=media)
            return _demo(folder, speed, kept=workdir is not None, media=media)
    except OSError as exc:
        print(f"reconcile demo: {exc.strerror or exc}: {exc.filename or workdir}",
              file=sys.stderr)
        return 1


@contextlib.contextmanager
def _workdir(workdir: str | None) -> Iterator[Path]:
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="reconcile-demo-") as tmp:
            yield Path(tmp)
        return
    folder = Path(workdir).expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    for name in OWN_FILES:  # a previous demo's database would not match this world
        (folder / name).unlink(missing_ok=True)
    yield folder


# ---------------------------------------------------------------- the demo


@dataclass(frozen=True)
class DemoResult:
    """How a demo run ended: the script (with what the simulated Jellyfin did, in world time)
    and the reconciler's database, kept in the working folder."""

    exit_code: int
    problems: list[str]
    interrupted: bool
    script: DemoScript
    database: Path


def _demo(folder: Path, speed: float, *, kept: bool, media: str = "jellyfin") -> int:
    return play_demo(folder, speed, kept=kept, media=media).exit_code


def play_demo(folder: Path, speed: float = 1.0, *, kept: bool = True,
              out: TextIO | None = None, media: str = "jellyfin") -> DemoResult:
    """The demo in `folder` (config, database and log are written there), printing to `out`
    (default stdout: a live table on a terminal, plain lines otherwise), with the media server
    `media`."""
    with start_stage(folder, speed, media) as stage, _logs_to(folder / "reconciler.log"):
        expectations = {e.request_id: e for e in stage.script.expectations}
        total = stage.script.scaled(stage.script.length) + 2.0
        out = out or sys.stdout
        presenter: Presenter = (LivePresenter(out, expectations, total, speed)
                                if out.isatty() else PlainPresenter(out))
        with DatabaseLock(stage.config.database):
            store = Store.open(stage.config.database)
            try:
                run = DemoRun(stage, store, presenter)
                presenter.start(header(stage, expectations, total, speed))
                try:
                    interrupted = asyncio.run(run.play())
                finally:
                    presenter.stop()
                problems = stage.script.check(store)
                summary(presenter, stage.script, store, problems, interrupted)
            finally:
                store.close()
        where = (f"The config, database and log are in {folder}." if kept else
                 "To keep the database and config: reconcile demo --workdir DIR.")
        presenter.print(where + " To try the commands by hand: reconcile demo --serve.")
        code = 0 if not problems and not interrupted else 1
        return DemoResult(code, problems, interrupted, stage.script, stage.config.database)


class DemoRun:
    """The daemon, the script thread and the presenter, for one run."""

    def __init__(self, stage: Stage, store: Store, presenter: Presenter) -> None:
        self.stage = stage
        self.store = store
        self.presenter = presenter
        self.events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self.rows: list[RequestRow] = []
        self.expected = {e.request_id: e.end_state for e in stage.script.expectations}
        self.first_cycle = threading.Event()

    def emit(self, who: str, text: str) -> None:
        self.events.put(Event(self.stage.script.elapsed(), who, text))

    def on_cycle(self, result: CycleResult) -> None:
        """After every committed cycle (the daemon's loop): note what changed."""
        for service in result.failed:
            self.emit("reconciler", f"could not poll {registry.short_name(service)}: "
                                    f"{result.polls[service].error}")
        rows = {r.id: r for r in self.store.requests()}
        self.first_cycle.set()
        moved = set()
        for t in result.transitions:
            rid, from_state, to_state, via = t.request_id, t.from_state, t.to_state, t.via
            moved.add(rid)
            row = rows.get(rid)
            title = row.title if row else None
            detail = row.detail if row else ""
            move = f"{from_state} -> {to_state}" if from_state else f"tracked: {to_state}"
            self.emit(request_label(rid, title), f"{move} (via {via}): {detail}")
        before = {r.id: r for r in self.rows}
        for rid, row in rows.items():
            # A new phase within the same state (imported, now waiting for the media server;
            # matched by Shoko) is worth a line too; progress alone is not.
            old = before.get(rid)
            if rid not in moved and old is not None and old.phase != row.phase:
                self.emit(request_label(rid, row.title), f"{row.state.value}: {row.detail}")
        for label in result.nudges:
            self.emit("reconciler", f"asks {self.stage.script.server} to scan {label}")
        self.rows = sorted(rows.values(), key=lambda r: r.id)

    def on_transition(self, row: RequestRow, from_state: str | None) -> None:
        """Inside the cycle: the reconciler's exact decision time of the anime film."""
        if row.id == SPIRITED and row.state is RequestState.AVAILABLE:
            self.stage.script.anime.available_at.append(row.state_since)

    def settled(self) -> bool:
        states = {r.id: r.state for r in self.rows}
        return all(states.get(rid) is want for rid, want in self.expected.items())

    def drain(self) -> None:
        while True:
            try:
                ev = self.events.get_nowait()
            except queue.Empty:
                break
            self.presenter.event(ev)
        self.presenter.rows(self.rows, self.stage.script.elapsed())

    async def play(self) -> bool:
        """Run the daemon and the script until every request settled or time is up.
        Returns True when interrupted (SIGINT/SIGTERM)."""
        from reconciler.daemon import Daemon

        script, world = self.stage.script, self.stage.world
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        interrupted = False

        def on_signal() -> None:
            nonlocal interrupted
            interrupted = True
            stop.set()

        handled = _add_signal_handlers(loop, on_signal)
        daemon = Daemon(self.stage.config, self.store, clock=lambda: world.now)
        daemon.cycle_listeners.append(self.on_cycle)
        daemon.reconciler.on_transition.append(self.on_transition)
        script_stop = threading.Event()
        thread = threading.Thread(target=script.play, name="demo-script", daemon=True,
                                  args=(lambda text: self.emit("sim", text), script_stop))
        task = asyncio.create_task(daemon.run(stop), name="daemon")
        try:
            # The script starts once the reconciler has seen the world as it begins (the first
            # cycle reads every service in full, which takes a moment).
            first_deadline = loop.time() + FIRST_CYCLE_TIMEOUT
            while (not self.first_cycle.is_set() and not task.done() and not stop.is_set()
                   and loop.time() < first_deadline):
                await asyncio.sleep(0.02)
            thread.start()
            deadline = loop.time() + script.deadline
            while not stop.is_set():
                await asyncio.sleep(0.05)
                self.drain()
                if task.done() or loop.time() > deadline:
                    break
                if script.done.is_set() and self.settled():
                    break
        finally:
            stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            script_stop.set()
            if thread.is_alive():
                await asyncio.to_thread(thread.join, 5)
            for sig, previous in handled.items():
                loop.remove_signal_handler(sig)
                if previous is not None:  # None: set outside Python, nothing to put back
                    signal.signal(sig, previous)
            self.drain()
        if daemon.exit_code:
            self.emit("reconciler", f"the daemon stopped with exit code {daemon.exit_code}")
            self.drain()
        return interrupted


def _add_signal_handlers(loop: asyncio.AbstractEventLoop,
                         handler: Callable[[], None]) -> dict[signal.Signals, Any]:
    """SIGINT/SIGTERM call `handler`; returns the handlers they had (to put back)."""
    added = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(sig)
        try:
            loop.add_signal_handler(sig, handler)
        except (NotImplementedError, RuntimeError, ValueError):
            continue  # not the main thread (tests, embedding): the caller stops us
        added[sig] = previous
    return added


@contextlib.contextmanager
def _logs_to(path: Path) -> Iterator[None]:
    """The reconciler's own log goes to a file (JSON lines), out of the demo's way."""
    previous = structlog.get_config()
    with path.open("a", encoding="utf-8") as stream:
        logs.configure("json", "info", stream=stream)
        try:
            yield
        finally:
            structlog.configure(**previous)


def _serve(folder: Path, speed: float, *, kept: bool, stop: threading.Event | None,
           media: str = "jellyfin") -> int:
    stop = stop or threading.Event()
    restore = stop_on_signals(stop)
    try:
        with start_stage(folder, speed, media) as stage:
            serve_stage(stage, kept=kept, stop=stop)
        return 0
    finally:
        restore()


