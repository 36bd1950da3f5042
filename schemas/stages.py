"""Journey stages and the catalog that derives a stage from a touchpoint name.

One ordered stage list serves both models in DOMAIN.md: the B2B SaaS funnel as is, and the
"12 critical points" folded onto it (research/short list → consideration, selection →
decision, set-up/getting started/first roadblock → onboarding, "how do others do it"/
"how far from the result"/expansion → active). Renewal and churn are the two ends of a
customer relationship; they share the last rank.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


class Stage(enum.StrEnum):
    AWARENESS = "awareness"
    CONSIDERATION = "consideration"
    DECISION = "decision"
    ONBOARDING = "onboarding"
    ACTIVE = "active"
    RENEWAL = "renewal"
    CHURN = "churn"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {stage: index for index, stage in enumerate(Stage)} | {Stage.CHURN: list(Stage).index(Stage.RENEWAL)}

# Exact touchpoint names win over their domain's default; touchpoints in neither carry no stage
# (support contacts, clicks, errors, surveys and identity events happen in any stage).
DEFAULT_TOUCHPOINT_STAGES: Mapping[str, Stage] = {
    "ad.impression": Stage.AWARENESS,
    "ad.click": Stage.AWARENESS,
    "social.mention": Stage.AWARENESS,
    "email.campaign_opened": Stage.AWARENESS,
    "web.landing_viewed": Stage.AWARENESS,
    "content.viewed": Stage.AWARENESS,
    "web.pricing_viewed": Stage.CONSIDERATION,
    "web.comparison_viewed": Stage.CONSIDERATION,
    "web.case_study_viewed": Stage.CONSIDERATION,
    "sales.demo_requested": Stage.CONSIDERATION,
    "sales.demo_held": Stage.CONSIDERATION,
    "email.campaign_clicked": Stage.CONSIDERATION,
    "trial.started": Stage.DECISION,
    "signup.started": Stage.DECISION,
    "signup.completed": Stage.DECISION,
    "checkout.started": Stage.DECISION,
    "checkout.completed": Stage.DECISION,
    "sales.proposal_sent": Stage.DECISION,
    "sales.contract_signed": Stage.DECISION,
    "trial.converted": Stage.DECISION,
    "onboarding.started": Stage.ONBOARDING,
    "onboarding.step_completed": Stage.ONBOARDING,
    "onboarding.completed": Stage.ONBOARDING,
    "activation.reached": Stage.ACTIVE,
    "feature.used": Stage.ACTIVE,
    "billing.upgraded": Stage.ACTIVE,
    "billing.addon_purchased": Stage.ACTIVE,
    "billing.renewal_notice": Stage.RENEWAL,
    "billing.renewed": Stage.RENEWAL,
    "billing.cancelled": Stage.CHURN,
    "account.closed": Stage.CHURN,
}

DEFAULT_DOMAIN_STAGES: Mapping[str, Stage] = {
    "ad": Stage.AWARENESS,
    "social": Stage.AWARENESS,
    "content": Stage.AWARENESS,
    "sales": Stage.CONSIDERATION,
    "trial": Stage.DECISION,
    "signup": Stage.DECISION,
    "checkout": Stage.DECISION,
    "onboarding": Stage.ONBOARDING,
    "activation": Stage.ACTIVE,
    "feature": Stage.ACTIVE,
}


class StageCatalog:
    """Maps a touchpoint name to the stage it signals, or None when it signals none."""

    def __init__(
        self,
        touchpoints: Mapping[str, Stage] = DEFAULT_TOUCHPOINT_STAGES,
        domains: Mapping[str, Stage] = DEFAULT_DOMAIN_STAGES,
    ) -> None:
        self._touchpoints = dict(touchpoints)
        self._domains = dict(domains)

    def stage_of(self, touchpoint: str) -> Stage | None:
        stage = self._touchpoints.get(touchpoint)
        if stage is not None:
            return stage
        domain, _, _ = touchpoint.partition(".")
        return self._domains.get(domain)
