"""The state table is complete: every state has a row with all that belongs to it, every
deadline a `[stuck]` key, every notify event a headline, every tone a colour on the page; and
what config, core, notify and the page read from it is what they said before."""

from __future__ import annotations

from datetime import timedelta
from importlib import resources

import pytest
from pydantic import ValidationError

from reconciler import states
from reconciler.config import NotifySection, StuckSection
from reconciler.core import Deadlines
from reconciler.states import (
    ACTIVE_STATES,
    EPISODE_RANK,
    HEADLINES,
    LADDER,
    NEVER_STUCK,
    PHASE_DEADLINES,
    PLAYABLE_STATES,
    STATES,
    STUCK_DEFAULTS,
    NotifyEvent,
    Phase,
    QueueStage,
    RequestState,
    Tone,
)

S = RequestState


def test_every_state_has_one_row_with_words_and_a_tone() -> None:
    assert list(STATES) == list(RequestState)
    for state, row in STATES.items():
        assert row.label.strip() and row.name.strip(), state
        assert isinstance(row.tone, Tone), state


def test_the_ladder_is_one_rung_per_state_on_it_and_the_journey_follows_it() -> None:
    assert sorted(LADDER.values()) == list(range(len(LADDER)))
    assert [s for s, row in STATES.items() if row.rank is None] == [S.FAILED, S.DECLINED,
                                                                     S.DELETED]
    for state, row in STATES.items():
        # On the journey bar exactly when on the ladder, and never further than 100 %.
        assert (row.journey is None) == (row.rank is None), state
        assert row.journey is None or 0 <= row.journey <= 100, state
    assert LADDER[S.AVAILABLE] == max(LADDER.values())
    assert EPISODE_RANK[S.FAILED] == LADDER[S.APPROVED]


def test_active_and_playable_states_are_on_the_ladder() -> None:
    assert {S.DOWNLOADING, S.IMPORTING, S.ANIME_MATCHING} == ACTIVE_STATES
    assert {S.PARTIALLY_AVAILABLE, S.AVAILABLE} == PLAYABLE_STATES
    assert all(s in LADDER for s in ACTIVE_STATES | PLAYABLE_STATES)


def test_every_deadline_has_a_stuck_key_with_its_default() -> None:
    deadlines = {**{s.value: row.deadline for s, row in STATES.items() if row.deadline},
                 **{p.value: d for p, d in PHASE_DEADLINES.items()}}
    assert list(StuckSection.model_fields) == list(deadlines) == list(STUCK_DEFAULTS)
    defaults = StuckSection().model_dump()
    for key, deadline in deadlines.items():
        assert deadline is not None
        assert defaults[key] == deadline.default.total_seconds(), key
        assert getattr(Deadlines(), key) == deadline.default, key
        assert "{limit}" in deadline.reason, key
    assert not set(PHASE_DEADLINES) & NEVER_STUCK


def test_the_stuck_keys_and_defaults_are_the_ones_operators_configure() -> None:
    """The `[stuck]` contract: these keys, these defaults, in this order."""
    assert StuckSection().model_dump() == {
        "approved": 6 * 3600.0, "indexed": 2 * 3600.0, "downloading": 2 * 3600.0,
        "download_done": 1800.0, "importing": 1800.0, "anime_matching": 1800.0,
        "waiting_for_jellyfin": 900.0,
    }
    assert StuckSection.model_validate({"importing": "5h"}).model_dump()["importing"] == 18000.0
    with pytest.raises(ValidationError, match="extra"):
        StuckSection.model_validate({"requested": "1h"})


def test_deadlines_take_the_stuck_keys_and_only_them() -> None:
    shorter = Deadlines(importing=timedelta(hours=5))
    assert shorter.importing == timedelta(hours=5)
    assert shorter.approved == timedelta(hours=6)
    assert shorter == Deadlines(importing=timedelta(hours=5)) != Deadlines()
    with pytest.raises(TypeError, match="requested"):
        Deadlines(requested=timedelta(hours=1))
    with pytest.raises(AttributeError):
        _ = Deadlines().requested


def test_every_notify_event_is_a_state_or_the_stuck_flag_and_has_a_headline() -> None:
    by_state = {row.notify: s for s, row in STATES.items() if row.notify is not None}
    assert set(by_state) | {NotifyEvent.STUCK} == set(NotifyEvent)
    for event, state in by_state.items():
        assert event.value == state.value  # the event is named for the state it announces
    assert set(HEADLINES) == set(NotifyEvent)
    assert all(HEADLINES.values())


def test_notify_events_are_listed_as_before_in_a_configuration_error() -> None:
    assert NotifySection(on=list(NotifyEvent)).on == list(NotifyEvent)
    with pytest.raises(ValidationError) as caught:
        NotifySection.model_validate({"on": ["ready"]})
    assert caught.value.errors()[0]["msg"] == (
        "Input should be 'available', 'stuck', 'failed', 'declined', 'deleted' or "
        "'partially_available'")


def test_download_stages_rank_as_their_states_do_on_the_ladder() -> None:
    assert [q.rank for q in QueueStage] == list(range(len(QueueStage)))
    assert QueueStage.FAILED.rank == 0  # a failed record is the least advanced
    moving = [q for q in QueueStage if q is not QueueStage.FAILED]
    assert [LADDER[q.state] for q in moving] == sorted(LADDER[q.state] for q in moving)
    assert {q for q in QueueStage if q.under_way} == {QueueStage.INDEXED, QueueStage.DOWNLOADING}


def test_every_phase_with_a_stuck_rule_is_a_phase() -> None:
    assert all(isinstance(p, Phase) for p in [*PHASE_DEADLINES, *NEVER_STUCK])


def test_every_tone_has_a_badge_colour_on_the_page() -> None:
    css = resources.files("reconciler.web").joinpath("static/style.css").read_text()
    for tone in Tone:
        assert f".badge.tone-{tone.value} " in css, tone


def test_the_table_module_imports_only_the_standard_library() -> None:
    source = resources.files("reconciler").joinpath("states.py").read_text()
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert imports and all("reconciler" not in line for line in imports), imports
    assert states.__doc__
