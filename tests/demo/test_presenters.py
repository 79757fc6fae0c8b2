"""The demo's live table colours each state by its tone in the state table."""

from __future__ import annotations

from reconciler.demo.presenters import TONE_STYLES, state_style
from reconciler.states import RequestState, Tone


def test_every_tone_has_a_colour_so_a_new_state_needs_no_edit_of_the_demo() -> None:
    assert set(TONE_STYLES) == set(Tone)
    assert all(state_style(state) for state in RequestState)


def test_each_state_keeps_the_colour_the_demo_showed_it_in() -> None:
    assert {state.value: state_style(state) for state in RequestState} == {
        "requested": "yellow", "approved": "yellow", "indexed": "cyan", "downloading": "cyan",
        "download_done": "cyan", "importing": "blue", "anime_matching": "magenta",
        "partially_available": "green", "available": "bold green", "failed": "bold red",
        "declined": "red", "deleted": "red",
    }
