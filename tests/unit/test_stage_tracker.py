from __future__ import annotations

from journey.config import JourneySettings
from journey.streams.stage_tracker import StageState, track_stage
from journey.streams.timeutil import MINUTE_MS

SETTINGS = JourneySettings()


def step(state: StageState, minute: int, touchpoint: str, stage: str | None) -> list:
    return track_stage(state, minute * MINUTE_MS, f"e{minute}", touchpoint, stage, SETTINGS)


def test_transitions_carry_time_in_the_previous_stage() -> None:
    state = StageState()
    first = step(state, 0, "ad.click", "awareness")
    assert step(state, 5, "web.landing_viewed", "awareness") == []
    moved = step(state, 20, "web.pricing_viewed", "consideration")
    assert (first[0].from_stage, first[0].to_stage, first[0].time_in_previous_ms) == (None, "awareness", None)
    assert (moved[0].from_stage, moved[0].to_stage) == ("awareness", "consideration")
    assert moved[0].time_in_previous_ms == 20 * MINUTE_MS and moved[0].first_time


def test_moving_back_is_a_transition_but_not_a_first_time() -> None:
    state = StageState()
    step(state, 0, "web.pricing_viewed", "consideration")
    step(state, 10, "signup.completed", "decision")
    back = step(state, 20, "web.pricing_viewed", "consideration")
    assert back[0].to_stage == "consideration" and not back[0].first_time
    assert state.reached["consideration"] == 0


def test_older_event_moves_first_reached_back_without_a_transition() -> None:
    state = StageState()
    step(state, 30, "signup.completed", "decision")
    assert step(state, 10, "web.pricing_viewed", "consideration") == []
    assert state.reached == {"decision": 30 * MINUTE_MS, "consideration": 10 * MINUTE_MS}
    assert state.current == "decision"


def test_time_to_first_value_from_signup_to_activation() -> None:
    state = StageState()
    step(state, 0, "signup.completed", "decision")
    assert state.time_to_first_value_ms is None
    step(state, 90, "activation.reached", "active")
    assert state.time_to_first_value_ms == 90 * MINUTE_MS
