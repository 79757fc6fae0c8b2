"""What the demo says before it starts (the requests and their stories) and after (each
request's timeline from the reconciler's database, the anime film's case, the verdict)."""

from __future__ import annotations

from datetime import UTC, datetime

from reconciler import registry
from reconciler.demo.presenters import Presenter, request_kind, request_label
from reconciler.demo.script import DemoScript, Expectation
from reconciler.demo.stage import Stage
from reconciler.store import Store


def header(stage: Stage, expectations: dict[int, Expectation], total: float,
           speed: float) -> list[str]:
    names = ", ".join(registry.short_name(s) for s in stage.stack.services)
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


def summary(presenter: Presenter, script: DemoScript, store: Store, problems: list[str],
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
        p(f"{request_label(row.id, row.title)} ({request_kind(row, expectations)}): "
          f"{row.state.value}, {verdict}", style="bold")
        for line in _timeline_lines(script, store, row.id):
            p(line)
    anime = script.anime
    if anime.pending_since is not None:
        refreshed = ", ".join(f"{script.elapsed(t):.1f}s" for t in anime.refreshes) or "never"
        listed = f"{script.elapsed(anime.listed_at):.1f}s" if anime.listed_at else "never"
        first = min(anime.available_at, default=None)
        said = f"{script.elapsed(first):.1f}s" if first else "never"
        server = script.server
        ready = "Shoko matched it" if server == "Jellyfin" else "its file was on disk"
        p()
        p(f"Spirited Away: {ready} at {script.elapsed(anime.pending_since):.1f}s; the "
          f"reconciler asked {server} to scan at {refreshed}; {server} listed it at {listed}; "
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
