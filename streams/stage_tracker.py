"""Journey stages of one journey: when each stage was first reached, the transitions between
stages with the time spent in the one left, and time to first value. Pure and deterministic.

A transition happens when an event signals a stage other than the current one and is not older
than the moment the current stage began; an older event can still move a stage's *first reached*
time earlier, but never rewrites the transitions already emitted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from journey.config import JourneySettings


@dataclass(slots=True)
class StageState:
    reached: dict[str, int] = field(default_factory=dict)  # stage -> first time reached (epoch ms)
    current: str | None = None
    current_since_ms: int | None = None
    value_started_ms: int | None = None
    first_value_ms: int | None = None

    @property
    def time_to_first_value_ms(self) -> int | None:
        if self.value_started_ms is None or self.first_value_ms is None:
            return None
        return max(0, self.first_value_ms - self.value_started_ms)


@dataclass(frozen=True, slots=True)
class StageTransition:
    from_stage: str | None
    to_stage: str
    at_ms: int
    time_in_previous_ms: int | None
    first_time: bool  # the journey reaches `to_stage` for the first time
    event_id: str


def track_stage(
    state: StageState, occurred_ms: int, event_id: str, touchpoint: str, stage: str | None, settings: JourneySettings
) -> list[StageTransition]:
    """Apply one event; return the transition it causes, if any."""
    if touchpoint in settings.value_start_touchpoints:
        state.value_started_ms = _earliest(state.value_started_ms, occurred_ms)
    if touchpoint in settings.activation_touchpoints:
        state.first_value_ms = _earliest(state.first_value_ms, occurred_ms)
    if stage is None:
        return []
    first_time = stage not in state.reached
    state.reached[stage] = _earliest(state.reached.get(stage), occurred_ms)
    if stage == state.current:
        return []
    if state.current_since_ms is not None and occurred_ms < state.current_since_ms:
        return []
    transition = StageTransition(
        from_stage=state.current,
        to_stage=stage,
        at_ms=occurred_ms,
        time_in_previous_ms=None if state.current_since_ms is None else occurred_ms - state.current_since_ms,
        first_time=first_time,
        event_id=event_id,
    )
    state.current, state.current_since_ms = stage, occurred_ms
    return [transition]


def merge_stages(into: StageState, other: StageState) -> None:
    """Fold an anonymous journey's stage history into the customer's (first-reached times)."""
    for stage, at in other.reached.items():
        into.reached[stage] = _earliest(into.reached.get(stage), at)
    into.value_started_ms = _earliest(into.value_started_ms, other.value_started_ms)
    into.first_value_ms = _earliest(into.first_value_ms, other.first_value_ms)
    if into.current is None:
        into.current, into.current_since_ms = other.current, other.current_since_ms


def _earliest(a: int | None, b: int | None) -> int:
    if a is None:
        return b  # type: ignore[return-value]
    return a if b is None else min(a, b)
