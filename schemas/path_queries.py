"""Paths into friction and through the stages: what customers did just before something went
wrong, and how they move from stage to stage. Shared by report.html and the Grafana boards.

A path is a person's last `journey_map.path_length` touchpoints up to and including the moment:
each friction signal (abandonments by flow and step, the others by kind), and a person's first
support contact in the window ("searched help three times, then called support"). Counted per
kind and place, with each path's share; the `paths_shown` most common.
"""

from __future__ import annotations

from journey.config import Settings
from journey.schemas.queries import Query, join_links, person_of

SUPPORT_CONTACT = "startsWith(t.touchpoint, 'support.')"


def _paths(settings: Settings) -> str:
    return f"""paths AS (
    SELECT {person_of("t")} AS person, arraySort(x -> x.1, groupArray((t.occurred_at, t.touchpoint))) AS path
    FROM {{db}}.touchpoints AS t FINAL {join_links("t")}
    WHERE t.occurred_at < {{to}}
    GROUP BY person
)"""


def _last(settings: Settings, moment: str) -> str:
    n = settings.journey_map.path_length
    return f"arrayStringConcat(arrayMap(x -> x.2, arraySlice(arrayFilter(x -> x.1 <= {moment}, p.path), -{n})), ' → ')"


def paths_into_friction(settings: Settings) -> Query:
    shown = settings.journey_map.paths_shown
    return Query(
        "paths_into_friction",
        f"Paths into friction (last {settings.journey_map.path_length} touchpoints)",
        f"""
WITH {_paths(settings)},
signals AS (
    SELECT {person_of("f")} AS person, f.kind AS kind, f.occurred_at AS at,
           if(f.kind = 'abandonment', concat(ifNull(f.flow, ''), ' / ', ifNull(f.step, '')), '') AS place
    FROM {{db}}.friction_signals AS f FINAL {join_links("f")}
    WHERE f.version = 1 AND f.occurred_at >= {{from}} AND f.occurred_at < {{to}}
)
SELECT kind, place, path, signals, round(100 * signals / sum(signals) OVER (PARTITION BY kind, place), 1) AS share_pct
FROM (
    SELECT s.kind AS kind, s.place AS place, {_last(settings, "s.at")} AS path, count() AS signals
    FROM signals AS s JOIN paths AS p ON p.person = s.person
    GROUP BY kind, place, path
)
ORDER BY kind, place, signals DESC, path
LIMIT {shown} BY kind, place""",
    )


def paths_to_first_contact(settings: Settings) -> Query:
    shown = settings.journey_map.paths_shown
    return Query(
        "paths_to_first_contact",
        f"Paths to a first support contact (last {settings.journey_map.path_length} touchpoints)",
        f"""
WITH {_paths(settings)},
first_contacts AS (
    SELECT {person_of("t")} AS person, min(t.occurred_at) AS at
    FROM {{db}}.touchpoints AS t FINAL {join_links("t")}
    WHERE {SUPPORT_CONTACT} AND t.occurred_at < {{to}}
    GROUP BY person
    HAVING at >= {{from}}
)
SELECT path, customers, round(100 * customers / sum(customers) OVER (), 1) AS share_pct
FROM (
    SELECT {_last(settings, "c.at")} AS path, count() AS customers
    FROM first_contacts AS c JOIN paths AS p ON p.person = c.person
    GROUP BY path
)
ORDER BY customers DESC, path
LIMIT {shown}""",
    )


STAGE_FLOW = Query(
    "stage_flow",
    "Stage flow (transitions between stages)",
    f"""
SELECT ifNull(s.from_stage, '(new)') AS from_stage, s.to_stage AS to_stage, uniqExact({person_of("s")}) AS customers
FROM {{db}}.stage_transitions AS s FINAL {join_links("s")}
WHERE s.at >= {{from}} AND s.at < {{to}}
GROUP BY from_stage, to_stage
ORDER BY customers DESC, from_stage, to_stage""",
)


def path_queries(settings: Settings) -> list[Query]:
    return [paths_into_friction(settings), paths_to_first_contact(settings), STAGE_FLOW]
