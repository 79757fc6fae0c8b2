"""What the demo shows while it runs: one line per event (`PlainPresenter`), or a live table
of the requests and the latest events on a terminal (`LivePresenter`, rich)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, TextIO

from reconciler.demo.script import Expectation
from reconciler.models import MediaType
from reconciler.states import STATES, RequestState, Tone
from reconciler.store import RequestRow
from reconciler.words import progress_text


@dataclass(frozen=True)
class Event:
    at: float  # seconds since the start of the demo
    who: str  # "sim", "reconciler" or "#3 Spirited Away"
    text: str


# A state's colour in the live table is its tone's (`reconciler.states`), so a new state needs
# nothing here. The late steps of the demo's story keep a shade of their own within theirs.
TONE_STYLES: dict[Tone, str] = {
    Tone.WAITING: "yellow", Tone.ACTIVE: "cyan", Tone.READY: "green",
    Tone.PROBLEM: "bold red", Tone.ENDED: "red",
}
SHADES: dict[RequestState, str] = {
    RequestState.IMPORTING: "blue", RequestState.ANIME_MATCHING: "magenta",
    RequestState.AVAILABLE: "bold green",
}


def state_style(state: RequestState) -> str:
    """The rich style of `state` in the live table."""
    return SHADES.get(state) or TONE_STYLES[STATES[state].tone]


def request_label(request_id: int, title: str | None) -> str:
    return f"#{request_id} {title or '?'}"


def request_kind(row: RequestRow, expectations: dict[int, Expectation]) -> str:
    exp = expectations.get(row.id)
    if exp is not None:
        return exp.kind
    kind = "show" if row.media_type is MediaType.TV else "film"
    return ("anime " if row.is_anime else "") + kind


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
            state = Text(row.state.value, style=state_style(row.state))
            if row.stuck_reason:
                state.append(" (stuck)", style="bold red")
            table.add_row(str(row.id), row.title or "?", request_kind(row, self.expectations),
                          state, _bar(row), row.detail or "")
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
