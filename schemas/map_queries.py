"""The journey map's queries: per segment and stage, over a window. Shared by `journey map`, the
worker's /map, report.html and the Grafana board, like every other read (schemas/queries.py).

A *person* is a customer with the anonymous journeys linked to them (identity_links), so the
awareness a visitor went through before signing up counts for the customer they became. A
person's *segment* comes from all their touchpoints (settings `[segments]`): the first value of a
property path, the first touchpoint's channel, or the account. Everything that happens is placed
in the stage the person was in at that moment (the last stage transition at or before it, an
ASOF join), so a support contact during onboarding counts for onboarding.

Per stage: customers who reached it in the window, conversion to a later stage (not churn), time
in the stage (from transitions out of it), drop-out (churned, or silent for `silent_days` at the
window's end); top touchpoints and the channel mix; pain points (friction signals by kind and
place); sentiment (NPS, CSAT, CES of answers given in the stage); and the opportunity: the pain
point whose customers convert least compared with those in the stage without it.
"""

from __future__ import annotations

from dataclasses import dataclass

from journey.config import Settings
from journey.schemas.queries import Query, churn_sql, join_links, person_of, sql_list, sql_string
from journey.schemas.stages import Stage

STAGES = tuple(stage.value for stage in Stage)  # the map's columns, in order
NONE = "(none)"


def segment_expression(source: str) -> str:
    """SQL over a person's touchpoints (grouped) for a `[segments]` source."""
    if source == "first_channel":
        return "toString(argMin(t.channel, t.occurred_at))"
    if source == "account":
        return f"ifNull(argMinIf(t.account_id, t.occurred_at, t.account_id IS NOT NULL), {sql_string(NONE)})"
    path = ", ".join(sql_string(part) for part in source.split(".")[1:])
    value = f"JSONExtractString(t.properties, {path})"
    return f"if(countIf({value} != '') = 0, {sql_string(NONE)}, argMinIf({value}, t.occurred_at, {value} != ''))"


@dataclass(frozen=True)
class MapQueries:
    segment: str  # its name in `[segments]`
    stages: Query
    touchpoints: Query
    channels: Query
    pain_points: Query
    sentiment: Query
    opportunities: Query
    churn: Query

    def all(self) -> list[Query]:
        return [self.stages, self.touchpoints, self.channels, self.pain_points, self.sentiment, self.opportunities,
                self.churn]  # fmt: skip


def map_queries(settings: Settings, segment: str | None = None) -> MapQueries:
    name = segment or settings.segments.default
    if name not in settings.segments.definitions:
        known = ", ".join(sorted(settings.segments.definitions))
        raise ValueError(f"unknown segment {name!r} (configured in [segments]: {known})")
    m = settings.journey_map
    segments = f"""segments AS (
    SELECT {person_of("t")} AS person, {segment_expression(settings.segments.definitions[name])} AS segment
    FROM {{db}}.touchpoints AS t FINAL {join_links("t")}
    WHERE t.occurred_at < {{to}}
    GROUP BY person
),
"""
    common = f"""
WITH {sql_list(STAGES).replace("(", "[", 1)[:-1]}] AS stage_order,
{segments}stage_path AS (
    SELECT {person_of("s")} AS person, s.at AS at, s.to_stage AS stage
    FROM {{db}}.stage_transitions AS s FINAL {join_links("s")}
    WHERE s.at < {{to}}
),
reached AS (  -- each person's stages reached in the window, and whether they moved on (in the window)
    SELECT r.person AS person, r.stage AS stage, r.first_at AS at,
           arrayExists(x -> x.2 >= r.first_at AND x.2 < {{to}} AND indexOf(stage_order, x.1) > indexOf(stage_order, r.stage)
                            AND x.1 != 'churn', p.path) AS moved_on,
           r.stage != 'churn' AND arrayExists(x -> x.2 >= r.first_at AND x.2 < {{to}} AND x.1 = 'churn', p.path) AS churned
    FROM (SELECT person, stage, min(at) AS first_at FROM stage_path WHERE at >= {{from}} GROUP BY person, stage) AS r
    JOIN (SELECT person, groupArray((stage, at)) AS path FROM stage_path GROUP BY person) AS p ON r.person = p.person
)"""
    at_stage = """
    ASOF LEFT JOIN stage_path AS sp ON sp.person = e.person AND e.at >= sp.at"""
    stages = Query(
        f"map_stages_{name}",
        f"Journey map by {name}: stages",
        common
        + f""",
last_seen AS (
    SELECT {person_of("t")} AS person, max(t.occurred_at) AS last_at
    FROM {{db}}.touchpoints AS t FINAL {join_links("t")} WHERE t.occurred_at < {{to}} GROUP BY person
),
time_in AS (
    SELECT g.segment AS segment, {person_of("s")} AS person, s.from_stage AS stage, s.time_in_previous_ms AS ms
    FROM {{db}}.stage_transitions AS s FINAL {join_links("s")}
    JOIN segments AS g ON g.person = {person_of("s")}
    WHERE s.at >= {{from}} AND s.at < {{to}} AND s.from_stage IS NOT NULL AND s.time_in_previous_ms IS NOT NULL
)
SELECT segment, stage, reached, converted, round(100 * converted / reached, 1) AS conversion_pct,
       churned, silent, round(100 * (churned + silent) / reached, 1) AS drop_out_pct,
       ifNull(p50_hours, 0) AS p50_hours, ifNull(p90_hours, 0) AS p90_hours
FROM (
    SELECT g.segment AS segment, r.stage AS stage, count() AS reached, countIf(r.moved_on) AS converted,
           countIf(NOT r.moved_on AND r.churned) AS churned,  -- churned from this stage
           countIf(NOT r.moved_on AND NOT r.churned AND r.stage != 'churn'
                   AND ls.last_at < {{to}} - toIntervalSecond({int(m.silent_days * 86400)})) AS silent
    FROM reached AS r JOIN segments AS g ON g.person = r.person LEFT JOIN last_seen AS ls ON ls.person = r.person
    GROUP BY segment, stage
) AS counts
LEFT JOIN (
    SELECT segment, stage, round(quantileExact(0.5)(ms) / 3600000, 1) AS p50_hours,
           round(quantileExact(0.9)(ms) / 3600000, 1) AS p90_hours
    FROM time_in GROUP BY segment, stage
) AS durations USING (segment, stage)
ORDER BY segment, indexOf(stage_order, stage)""",
    )

    def events(query_name: str, title: str, source: str, where: str, select: str, group: str, tail: str,
               table: str = "touchpoints") -> Query:  # fmt: skip
        """Rows of `table` in the window, each in the person's stage at the time, per segment."""
        return Query(
            f"map_{query_name}_{name}",
            f"Journey map by {name}: {title}",
            common
            + f""",
events AS (
    SELECT {person_of("t")} AS person, t.occurred_at AS at, {source}
    FROM {{db}}.{table} AS t FINAL {join_links("t")}
    WHERE t.occurred_at >= {{from}} AND t.occurred_at < {{to}}{where}
)
SELECT g.segment AS segment, ifNull(nullIf(sp.stage, ''), {sql_string(NONE)}) AS stage, {select}
FROM events AS e{at_stage}
JOIN segments AS g ON g.person = e.person
GROUP BY segment, stage, {group}
{tail}""",
        )

    top = m.top
    touchpoints = events("touchpoints", "what customers do", "t.touchpoint AS touchpoint", "",
                         "touchpoint, count() AS events, uniqExact(e.person) AS customers", "touchpoint",
                         f"ORDER BY segment, indexOf(stage_order, stage), events DESC, touchpoint LIMIT {top} BY segment, stage")  # fmt: skip
    channels = events("channels", "channel mix", "toString(t.channel) AS channel", "",
                      "channel, count() AS events", "channel",
                      "ORDER BY segment, indexOf(stage_order, stage), events DESC, channel")  # fmt: skip
    place = ("multiIf(t.flow IS NOT NULL AND t.step IS NOT NULL, concat(t.flow, ' / ', t.step), t.flow IS NOT NULL, "
             "t.flow, ifNull(t.touchpoint, '')) AS place")  # fmt: skip
    pain_points = events("pain_points", "pain points", f"t.kind AS kind, {place}", " AND t.version = 1",
                         "kind, place, count() AS signals, uniqExact(e.person) AS customers", "kind, place",
                         f"ORDER BY segment, indexOf(stage_order, stage), signals DESC, kind, place LIMIT {top} BY segment, stage",
                         table="friction_signals")  # fmt: skip
    sentiment = events("sentiment", "sentiment", "replaceOne(t.touchpoint, 'survey.', '') AS kind, t.score AS score",
                       " AND t.touchpoint IN ('survey.nps', 'survey.csat', 'survey.ces') AND t.score IS NOT NULL",
                       """kind, count() AS answers,
       multiIf(kind = 'nps', round(100 * (countIf(score >= 9) - countIf(score <= 6)) / count(), 1),
               kind = 'csat', round(100 * countIf(score >= 4) / count(), 1),
               round(avg(score), 2)) AS value""", "kind",
                       "ORDER BY segment, indexOf(stage_order, stage), kind")  # fmt: skip
    opportunities = Query(
        f"map_opportunities_{name}",
        f"Journey map by {name}: biggest opportunity",
        common
        + f""",
pains AS (
    SELECT DISTINCT e.person AS person, sp.stage AS stage, e.kind AS kind, e.place AS place
    FROM (SELECT {person_of("t")} AS person, t.occurred_at AS at, t.kind AS kind, {place}
          FROM {{db}}.friction_signals AS t FINAL {join_links("t")}
          WHERE t.occurred_at >= {{from}} AND t.occurred_at < {{to}} AND t.version = 1) AS e{at_stage}
),
totals AS (
    SELECT g.segment AS segment, r.stage AS stage, count() AS reached, countIf(r.moved_on) AS converted
    FROM reached AS r JOIN segments AS g ON g.person = r.person GROUP BY segment, stage
)
SELECT segment, stage, kind, place, with_pain, converted_with,
       round(100 * converted_with / with_pain, 1) AS conversion_with_pct,
       reached - with_pain AS without_pain, converted - converted_with AS converted_without,
       round(100 * (converted - converted_with) / (reached - with_pain), 1) AS conversion_without_pct,
       round(conversion_without_pct - conversion_with_pct, 1) AS gap_points
FROM (
    SELECT g.segment AS segment, r.stage AS stage, p.kind AS kind, p.place AS place,
           count() AS with_pain, countIf(r.moved_on) AS converted_with
    FROM reached AS r JOIN pains AS p ON p.person = r.person AND p.stage = r.stage
    JOIN segments AS g ON g.person = r.person
    GROUP BY segment, stage, kind, place
) AS hurt
JOIN totals USING (segment, stage)
WHERE with_pain >= {m.min_customers} AND reached > with_pain AND gap_points > 0 AND stage NOT IN ('renewal', 'churn')
ORDER BY segment, indexOf(stage_order, stage), gap_points DESC, with_pain DESC, kind, place
LIMIT 1 BY segment, stage""",
    )
    churn = Query(f"map_churn_{name}", f"Journey map by {name}: churn, with and without critical friction",
                  churn_sql(segments))  # fmt: skip
    return MapQueries(name, stages, touchpoints, channels, pain_points, sentiment, opportunities, churn)
