"""The periodic audit's gauges (journey/reports/audit.py): a count is exported once two audits
running found it (a session closing between one audit's reads is missing once), and 0 again as
soon as one audit finds none."""

from __future__ import annotations

from prometheus_client import REGISTRY

from journey.config import Settings
from journey.reports.audit import Audit, PeriodicAudit


def audit(*sessions: str, late: int = 0, rollup_off: int = 0) -> Audit:
    """An audit whose unsessioned touchpoints are in `sessions` (one each)."""
    return Audit(touchpoints=100, late=late, in_closed_sessions=90, in_open_sessions=10 - len(sessions),
                 unsessioned=len(sessions), session_events_off=0, false_abandonments=0, negative_recoveries=0,
                 repeated_first_reach=0, rollup_off=rollup_off, unsessioned_ids=frozenset(sessions))  # fmt: skip


def gauge(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_a_violation_counts_once_two_audits_running_find_it() -> None:
    periodic = PeriodicAudit(Settings())
    periodic.export(audit("s1", "s2", late=2, rollup_off=3))
    assert gauge("journey_audit_violations", check="unsessioned") == 2  # nothing before it to compare
    periodic.export(audit())
    assert gauge("journey_audit_violations", check="unsessioned") == 0
    periodic.export(audit("s3", "s4"))  # once: sessions that closed between the reads
    assert gauge("journey_audit_violations", check="unsessioned") == 0
    periodic.export(audit("s4", "s5", "s6"))  # under traffic some are always in flight: only s4 stayed
    assert gauge("journey_audit_violations", check="unsessioned") == 1
    assert gauge("journey_audit_violations", check="rollup_off") == 0
    assert gauge("journey_audit_violations", check="session_events_off") is None  # `journey audit` only
    assert gauge("journey_audit_late_touchpoints") == 0
    assert (gauge("journey_audit_last_success_timestamp_seconds") or 0) > 0


def test_an_interval_of_zero_starts_no_thread() -> None:
    settings = Settings()
    periodic = PeriodicAudit(
        settings.model_copy(update={"sink": settings.sink.model_copy(update={"audit_interval_s": 0})})
    )
    periodic.start()
    assert not periodic.thread.is_alive()
