from __future__ import annotations

from journey.schemas.stages import Stage, StageCatalog


def test_exact_name_wins_over_domain_default() -> None:
    catalog = StageCatalog()
    assert catalog.stage_of("billing.renewed") is Stage.RENEWAL
    assert catalog.stage_of("billing.cancelled") is Stage.CHURN
    assert catalog.stage_of("signup.anything_new") is Stage.DECISION  # domain default


def test_touchpoints_without_a_stage_signal_none() -> None:
    catalog = StageCatalog()
    for name in ("support.ticket_opened", "ui.click", "survey.nps", "identity.identified", "web.error"):
        assert catalog.stage_of(name) is None


def test_stages_are_ordered_with_renewal_and_churn_as_equal_ends() -> None:
    ranks = [stage.rank for stage in Stage]
    assert ranks == sorted(ranks)
    assert Stage.AWARENESS.rank < Stage.DECISION.rank < Stage.ACTIVE.rank < Stage.RENEWAL.rank
    assert Stage.RENEWAL.rank == Stage.CHURN.rank
