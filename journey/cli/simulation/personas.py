"""Who the simulated customers are: each persona's odds along the journey. The numbers are the
simulation's ground truth (tests check the pipeline's output against them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Persona:
    name: str
    weight: float  # share of customers
    signs_up: float  # starts the signup flow
    step_pass: float  # goes on at each step of a flow (signup, checkout, onboarding)
    buys: float  # starts a checkout once signed up
    onboards: float  # starts onboarding once signed up
    trouble: float  # gets stuck during onboarding (help searches, support contacts)
    contacts: tuple[int, int]  # support contacts when in trouble (min, max)
    rage_prone: float  # rage-clicks a misbehaving element in a session
    error_prone: float  # runs into an error loop when in trouble
    churns: float  # cancels later, before the effect of friction
    nps_base: float  # the NPS answer of a frictionless journey
    via_sales: bool = False  # demos and a contract instead of self-serve checkout
    trials: float = 0.0  # starts a trial instead of buying at once (then converts with `buys`)


PERSONAS: tuple[Persona, ...] = (
    Persona("explorer", 0.35, signs_up=0.2, step_pass=0.8, buys=0.3, onboards=0.6, trouble=0.2, contacts=(1, 1),
            rage_prone=0.05, error_prone=0.1, churns=0.15, nps_base=7, trials=0.7),
    Persona("self_starter", 0.25, signs_up=0.95, step_pass=0.96, buys=0.5, onboards=0.95, trouble=0.08, contacts=(1, 1),
            rage_prone=0.02, error_prone=0.1, churns=0.03, nps_base=9.2),
    Persona("buyer", 0.2, signs_up=0.9, step_pass=0.93, buys=0.9, onboards=0.8, trouble=0.15, contacts=(1, 2),
            rage_prone=0.05, error_prone=0.2, churns=0.06, nps_base=8.5),
    Persona("struggler", 0.15, signs_up=0.9, step_pass=0.85, buys=0.25, onboards=0.9, trouble=0.85, contacts=(2, 5),
            rage_prone=0.35, error_prone=0.6, churns=0.25, nps_base=6.5),
    Persona("enterprise", 0.05, signs_up=1.0, step_pass=0.97, buys=0.0, onboards=1.0, trouble=0.3, contacts=(1, 3),
            rage_prone=0.02, error_prone=0.2, churns=0.02, nps_base=8.8, via_sales=True),
)  # fmt: skip

# Elements that misbehave now and then (rage clicks), outside any incident.
FLAKY_ELEMENTS = ("pricing-toggle", "import-button", "save-settings", "invite-send")
CHANNELS_IN = ("ads", "social", "email", "web")  # where anonymous visitors come from
HELP_QUERIES = ("import csv", "invite team", "billing address", "reset password", "api key", "export data")
