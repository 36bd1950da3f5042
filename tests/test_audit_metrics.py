"""The periodic audit's gauges (journey/reports/audit.py): a count is exported once two audits
running found it (a session closing between one audit's reads is missing once), and 0 again as
soon as one audit finds none."""

from __future__ import annotations

from prometheus_client import REGISTRY

from journey.config import Settings
from journey.reports.audit import Audit, PeriodicAudit


def audit(unsessioned: int, late: int = 0) -> Audit:
    return Audit(touchpoints=100, late=late, in_closed_sessions=90, in_open_sessions=10 - unsessioned,
                 unsessioned=unsessioned, session_events_off=0, false_abandonments=0, negative_recoveries=0,
                 repeated_first_reach=0, rollup_off=0)  # fmt: skip


def gauge(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_a_violation_counts_once_two_audits_running_find_it() -> None:
    periodic = PeriodicAudit(Settings())
    periodic.export(audit(unsessioned=3, late=2))
    assert gauge("journey_audit_violations", check="unsessioned") == 3  # nothing before it to compare
    periodic.export(audit(unsessioned=0))
    assert gauge("journey_audit_violations", check="unsessioned") == 0
    periodic.export(audit(unsessioned=5))  # once: could be a session closing between the reads
    assert gauge("journey_audit_violations", check="unsessioned") == 0
    periodic.export(audit(unsessioned=4))
    assert gauge("journey_audit_violations", check="unsessioned") == 4
    assert gauge("journey_audit_late_touchpoints") == 0
    assert gauge("journey_audit_violations", check="rollup_off") == 0
    assert (gauge("journey_audit_last_success_timestamp_seconds") or 0) > 0


def test_an_interval_of_zero_starts_no_thread() -> None:
    settings = Settings()
    periodic = PeriodicAudit(
        settings.model_copy(update={"sink": settings.sink.model_copy(update={"audit_interval_s": 0})})
    )
    periodic.start()
    assert not periodic.thread.is_alive()
