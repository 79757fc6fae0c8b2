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
import socket
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import structlog

from reconciler import logs, registry
from reconciler.config import Config, load_config
from reconciler.demo.script import (
    ANIME,
    MIN_REFRESH_GRACE,
    POLL_INTERVAL,
    REFRESH_GRACE,
    REFRESH_MIN_INTERVAL,
    SEERR_POLL_INTERVAL,
    SPIRITED,
    DemoScript,
    Expectation,
)
from reconciler.lock import DatabaseLock
from reconciler.results import CycleResult
from reconciler.states import RequestState
from reconciler.store import RequestRow, Store
from reconciler.words import progress_text
from simstack import SimulatedStack, World

MAX_SPEED = 20.0
FIRST_CYCLE_TIMEOUT = 15.0
# Files the demo writes into its working folder (and replaces when they are there already).
OWN_FILES = ("config.toml", "reconciler.db", "reconciler.db-wal", "reconciler.db-shm",
             "reconciler.db.lock", "reconciler.log")


def run_demo(speed: float = 1.0, workdir: str | None = None, serve: bool = False, *,
             stop: threading.Event | None = None) -> int:
    """`reconcile demo`. `stop` ends a `--serve` run from another thread (tests, embedding);
    otherwise SIGINT/SIGTERM do."""
    if not 0 < speed <= MAX_SPEED:
        print(f"reconcile demo: --speed must be above 0 and at most {MAX_SPEED:g}",
              file=sys.stderr)
        return 2
    try:
        with _workdir(workdir) as folder:
            if serve:
                return _serve(folder, speed, kept=workdir is not None, stop=stop)
            return _demo(folder, speed, kept=workdir is not None)
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


# ---------------------------------------------------------------- the stack and its config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _toml(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def config_text(stack: SimulatedStack, script: DemoScript, listen: str) -> str:
    """The reconciler's configuration for the simulated stack (intervals scaled by speed)."""
    fast = script.interval(POLL_INTERVAL)
    intervals = {s: fast for s in registry.SERVICES}
    intervals["jellyseerr"] = script.interval(SEERR_POLL_INTERVAL)
    lines = [
        "# reconcile demo: the simulated stack on 127.0.0.1 (free ports, chosen at start).",
        "# Intervals are a few seconds so that the demo fits in a minute; a real stack polls",
        "# every 30-60 s (see config.example.toml).",
        "[reconciler]",
        'database = "reconciler.db"',
        'log_format = "auto"',
        'log_level = "info"',
        f"active_poll_interval = {fast:g}",
    ]
    for service in registry.SERVICES:
        lines += [
            "",
            f"[{service}]",
            f"url = {_toml(stack.url(service))}",
            f"api_key = {_toml(stack.api_keys[service])}",
            f"poll_interval = {intervals[service]:g}",
        ]
        if service == "jellyfin":
            lines += [
                f"refresh_grace = {script.interval(REFRESH_GRACE, MIN_REFRESH_GRACE):g}",
                "refresh_min_interval = "
                f"{script.interval(REFRESH_MIN_INTERVAL, MIN_REFRESH_GRACE):g}",
            ]
    lines += [
        "",
        "[anime]",
        'radarr_tags = ["anime"]',
        f"root_folders = [{_toml(ANIME)}]",
        "",
        "[http]",
        f"listen = {_toml(listen)}",
    ]
    return "\n".join(lines) + "\n"


def _write_config(folder: Path, text: str) -> Path:
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


@dataclass
class Stage:
    """The simulated world, its script, the started stack and the reconciler's config."""

    world: World
    script: DemoScript
    stack: SimulatedStack
    config: Config
    config_text: str
    listen: str


@contextlib.contextmanager
def _stage(folder: Path, speed: float) -> Iterator[Stage]:
    world = World(realtime=True)
    script = DemoScript(world, speed)
    script.setup()
    with SimulatedStack(world) as stack:
        listen = f"127.0.0.1:{_free_port()}"
        text = config_text(stack, script, listen)
        config = load_config(_write_config(folder, text))
        yield Stage(world, script, stack, config, text, listen)


# ---------------------------------------------------------------- events and presentation


@dataclass(frozen=True)
class Event:
    at: float  # seconds since the start of the demo
    who: str  # "sim", "reconciler" or "#3 Spirited Away"
    text: str


STATE_STYLES = {
    "requested": "yellow", "approved": "yellow", "indexed": "cyan", "downloading": "cyan",
    "download_done": "cyan", "importing": "blue", "anime_matching": "magenta",
    "partially_available": "green", "available": "bold green", "failed": "bold red",
    "declined": "red", "deleted": "red",
}


def _label(request_id: int, title: str | None) -> str:
    return f"#{request_id} {title or '?'}"


def _kind(row: RequestRow, expectations: dict[int, Expectation]) -> str:
    exp = expectations.get(row.id)
    if exp is not None:
        return exp.kind
    return ("anime " if row.is_anime else "") + ("show" if row.media_type == "tv" else "film")


class PlainPresenter:
    """One line per event, for logs, pipes and CI."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def start(self, header: list[str]) -> None:
        for line in header:
            print(line, file=self.out)
        print(file=self.out, flush=True)

    def event(self, ev: Event) -> None:
        who = "[sim]" if ev.who == "sim" else ev.who
        print(f"{ev.at:6.1f}s  {who:<24} {ev.text}", file=self.out, flush=True)

    def rows(self, rows: list[RequestRow], elapsed: float) -> None:
        pass

    def stop(self) -> None:
        pass

    def print(self, text: str = "", style: str | None = None) -> None:
        print(text, file=self.out, flush=True)


class LivePresenter:
    """A live table of the requests and the latest events (rich), on a terminal."""

    def __init__(self, out: TextIO, expectations: dict[int, Expectation], total: float,
                 speed: float) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console(file=out, highlight=False)
        self.expectations = expectations
        self.total = total
        self.speed = speed
        self.recent: deque[Event] = deque(maxlen=9)
        self.current: list[RequestRow] = []
        self.elapsed = 0.0
        self.live = Live(console=self.console, refresh_per_second=8, transient=False,
                         get_renderable=self._render)

    def start(self, header: list[str]) -> None:
        for line in header:
            self.console.print(line, markup=False, soft_wrap=True)
        self.console.print()
        self.live.start()

    def event(self, ev: Event) -> None:
        self.recent.append(ev)

    def rows(self, rows: list[RequestRow], elapsed: float) -> None:
        self.current = rows
        self.elapsed = elapsed

    def stop(self) -> None:
        self.live.refresh()
        self.live.stop()

    def print(self, text: str = "", style: str | None = None) -> None:
        self.console.print(text, style=style, markup=False, soft_wrap=True)

    def _render(self) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        table = Table(title=f"reconcile demo  {self.elapsed:5.1f} s of about "
                            f"{self.total:.0f} s (speed {self.speed:g})",
                      title_justify="left", expand=True)
        # One line per request: the detail is cut to the terminal's width (the lines below and
        # the summary carry it in full).
        table.add_column("#", justify="right", no_wrap=True)
        table.add_column("title", no_wrap=True, max_width=20, overflow="ellipsis")
        table.add_column("type", no_wrap=True)
        table.add_column("state", no_wrap=True)
        table.add_column("progress", no_wrap=True)
        table.add_column("detail", ratio=1, no_wrap=True, overflow="ellipsis", min_width=12)
        for row in self.current:
            state = Text(row.state.value, style=STATE_STYLES.get(row.state.value, ""))
            if row.stuck_reason:
                state.append(" (stuck)", style="bold red")
            table.add_row(str(row.id), row.title or "?", _kind(row, self.expectations), state,
                          _bar(row), row.detail or "")
        lines = [Text(f"{ev.at:6.1f}s  {ev.who if ev.who != 'sim' else '[sim]':<24} {ev.text}",
                      style="dim" if ev.who == "sim" else "", overflow="ellipsis", no_wrap=True)
                 for ev in self.recent]
        return Group(table, *lines)


def _bar(row: RequestRow, width: int = 10) -> str:
    text = progress_text(row)
    if row.progress is None or row.state in (RequestState.AVAILABLE, RequestState.DECLINED):
        return text
    filled = round(max(0.0, min(1.0, row.progress)) * width)
    return "█" * filled + "░" * (width - filled) + " " + text


Presenter = PlainPresenter | LivePresenter


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


def _demo(folder: Path, speed: float, *, kept: bool) -> int:
    return play_demo(folder, speed, kept=kept).exit_code


def play_demo(folder: Path, speed: float = 1.0, *, kept: bool = True,
              out: TextIO | None = None) -> DemoResult:
    """The demo in `folder` (config, database and log are written there), printing to `out`
    (default stdout: a live table on a terminal, plain lines otherwise)."""
    with _stage(folder, speed) as stage, _logs_to(folder / "reconciler.log"):
        expectations = {e.request_id: e for e in stage.script.expectations}
        total = stage.script.scaled(stage.script.length) + 2.0
        out = out or sys.stdout
        presenter: Presenter = (LivePresenter(out, expectations, total, speed)
                                if out.isatty() else PlainPresenter(out))
        with DatabaseLock(stage.config.database):
            store = Store.open(stage.config.database)
            try:
                run = DemoRun(stage, store, presenter)
                presenter.start(_header(stage, expectations, total, speed))
                try:
                    interrupted = asyncio.run(run.play())
                finally:
                    presenter.stop()
                problems = stage.script.check(store)
                _summary(presenter, stage.script, store, problems, interrupted)
            finally:
                store.close()
        where = (f"The config, database and log are in {folder}." if kept else
                 "To keep the database and config: reconcile demo --workdir DIR.")
        presenter.print(where + " To try the commands by hand: reconcile demo --serve.")
        code = 0 if not problems and not interrupted else 1
        return DemoResult(code, problems, interrupted, stage.script, stage.config.database)


def _header(stage: Stage, expectations: dict[int, Expectation], total: float,
            speed: float) -> list[str]:
    names = ", ".join(registry.short_name(s) for s in registry.SERVICES)
    lines = [
        f"reconcile demo: simulated {names} on 127.0.0.1, and the real reconciler polling them "
        f"(speed {speed:g}, about {total:.0f} s).",
        f"Status page: http://{stage.listen}/",
        f"While it runs: curl http://{stage.listen}/api/requests",
        "",
        "The requests:",
    ]
    for exp in expectations.values():
        lines.append(f"  #{exp.request_id} {exp.title} ({exp.kind}): {exp.story}; expected "
                     f"{exp.end_state.value}")
    return lines


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
            self.emit(_label(rid, title), f"{move} (via {via}): {detail}")
        before = {r.id: r for r in self.rows}
        for rid, row in rows.items():
            # A new phase within the same state (imported, now waiting for Jellyfin; matched
            # by Shoko) is worth a line too; progress alone is not.
            old = before.get(rid)
            if rid not in moved and old is not None and old.phase != row.phase:
                self.emit(_label(rid, row.title), f"{row.state.value}: {row.detail}")
        for label in result.nudges:
            self.emit("reconciler", f"asks Jellyfin to scan {label}")
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


# ---------------------------------------------------------------- the summary


def _summary(presenter: Presenter, script: DemoScript, store: Store, problems: list[str],
             interrupted: bool) -> None:
    expectations = {e.request_id: e for e in script.expectations}
    p = presenter.print
    p()
    p("What happened (from the reconciler's database, which keeps whole seconds): when each "
      "state began, how long it lasted, who said so, and why.")
    for row in sorted(store.requests(), key=lambda r: r.id):
        exp = expectations.get(row.id)
        verdict = ""
        if exp is not None:
            verdict = ("as expected" if row.state is exp.end_state
                       else f"EXPECTED {exp.end_state.value}")
        p()
        p(f"{_label(row.id, row.title)} ({_kind(row, expectations)}): {row.state.value}, "
          f"{verdict}", style="bold")
        for line in _timeline_lines(script, store, row.id):
            p(line)
    anime = script.anime
    if anime.pending_since is not None:
        refreshed = ", ".join(f"{script.elapsed(t):.1f}s" for t in anime.refreshes) or "never"
        listed = f"{script.elapsed(anime.listed_at):.1f}s" if anime.listed_at else "never"
        first = min(anime.available_at, default=None)
        said = f"{script.elapsed(first):.1f}s" if first else "never"
        p()
        p(f"Spirited Away: Shoko matched it at {script.elapsed(anime.pending_since):.1f}s; the "
          f"reconciler asked Jellyfin to scan at {refreshed}; Jellyfin listed it at {listed}; "
          f"the reconciler said available at {said}"
          + (" (not before it was listed)." if first and anime.listed_at
             and first >= anime.listed_at else "."))
    p()
    if interrupted:
        ended = {r.id: r.state for r in store.requests()}
        done = sum(1 for e in script.expectations if ended.get(e.request_id) is e.end_state)
        p(f"demo: interrupted after {script.elapsed():.0f} s; {done} of "
          f"{len(script.expectations)} requests had reached their expected state",
          style="bold red")
    elif problems:
        for problem in problems:
            p(f"demo: {problem}", style="bold red")
    else:
        p(f"demo: all {len(script.expectations)} requests reached their expected state",
          style="bold green")


def _timeline_lines(script: DemoScript, store: Store, request_id: int) -> list[str]:
    """The request's timeline, in whole seconds since the start (the database's resolution)."""
    entries = store.timeline(request_id)
    origin = (script.started or datetime.now(UTC)).replace(microsecond=0)

    def second(at: datetime | None) -> int:
        return int((at - origin).total_seconds()) if at else 0

    changes = [i for i, t in enumerate(entries) if t.from_state != t.to_state]
    lines = []
    for i, t in enumerate(entries):
        start = second(t.at)
        if t.from_state == t.to_state:
            lines.append(f"  {start:4d}s  {'':<20} {'':>4}   {t.via:<10} {t.detail}")
            continue
        later = [j for j in changes if j > i]
        lasted = f"{second(entries[later[0]].at) - start:3d}s" if later else "   -"
        lines.append(f"  {start:4d}s  {t.to_state:<20} {lasted}   {t.via:<10} {t.detail}")
    return lines


# ---------------------------------------------------------------- --serve


def _serve(folder: Path, speed: float, *, kept: bool, stop: threading.Event | None) -> int:
    stop = stop or threading.Event()
    restore = _stop_on_signals(stop)
    try:
        with _stage(folder, speed) as stage:
            script = stage.script
            script.announce_refreshes = True
            config = stage.config.path
            out = sys.stdout
            print("reconcile demo --serve: the simulated stack is running on 127.0.0.1.",
                  file=out)
            for service in registry.SERVICES:
                print(f"  {registry.short_name(service):<11} {stage.stack.url(service)}   api key "
                      f"{stage.stack.api_keys[service]}", file=out)
            print(f"\nThe world plays the demo's script over the next "
                  f"{script.scaled(script.length):.0f} s (slower: --speed 0.25), then stays as "
                  f"it is. Nothing polls it until you do.", file=out)
            print(f"\nConfig: {config}", file=out)
            print("-" * 72, file=out)
            print(stage.config_text.rstrip("\n"), file=out)
            print("-" * 72, file=out)
            cmd = f"reconcile --config {config}"
            print("Try, in another terminal (run --once a few times as the script goes on):",
                  file=out)
            for line in (f"{cmd} --once", f"{cmd} status", f"{cmd} show {SPIRITED}",
                         f"{cmd} doctor",
                         f"{cmd}            # the daemon; then: curl http://{stage.listen}"
                         f"/api/requests",
                         f"Status page (while the daemon runs): http://{stage.listen}/"):
                print(f"  {line}", file=out)
            print(("The folder is kept afterwards." if kept else
                   "The folder is deleted when the stack stops.")
                  + " Ctrl-C stops the stack.", file=out, flush=True)

            def emit(text: str) -> None:
                print(f"{script.elapsed():6.1f}s  [sim] {text}", file=out, flush=True)

            script_stop = threading.Event()
            thread = threading.Thread(target=script.play, args=(emit, script_stop),
                                      name="demo-script", daemon=True)
            thread.start()
            while not stop.wait(0.2):
                pass
            script_stop.set()
            thread.join(5)
            print("reconcile demo --serve: stopping the simulated stack", file=out, flush=True)
        return 0
    finally:
        restore()


def _stop_on_signals(stop: threading.Event) -> Callable[[], None]:
    """SIGINT/SIGTERM set `stop` (main thread only); returns how to put the old handlers back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, previous in old.items():
            signal.signal(sig, previous)

    return restore
