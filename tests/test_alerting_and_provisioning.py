"""The generated Grafana and Prometheus files: current with the settings, well-formed for the tools
that load them (promtool, amtool), and consistent with each other (datasource uids, variables,
alert-rule references). Running the queries is tests/integration/test_grafana_boards.py."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from journey.cli.dashboards.boards import all_boards
from journey.cli.dashboards.files import DASHBOARDS_DIR, GRAFANA_ALERTS_FILE, PROMETHEUS_RULES_FILE, stale
from journey.config import Settings
from tests.conftest import REPO_ROOT
from tests.grafana_sql import VARIABLE

ALERTMANAGER_CONFIG = REPO_ROOT / "deploy/alertmanager/alertmanager.yml"
RULE_TESTS = REPO_ROOT / "deploy/prometheus/tests/journey.rules.test.yml"
PROVISIONING = REPO_ROOT / "grafana/provisioning"


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, (
        f"{name} is missing: scripts/bootstrap.sh installs it (Debian packages prometheus, prometheus-alertmanager)"
    )
    return path


def run(*command: str, stdout_only: bool = False) -> str:
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout if stdout_only else result.stdout + result.stderr


def test_generated_files_are_what_the_settings_render() -> None:
    assert stale(Settings(), REPO_ROOT) == [], "run `journey dashboards write` and commit the result"
    assert sorted(p.name for p in (REPO_ROOT / DASHBOARDS_DIR).glob("*.json")) == sorted(
        f"{uid}.json" for uid in all_boards(Settings())
    )


def test_promtool_accepts_the_rules_and_their_unit_tests_pass() -> None:
    promtool = tool("promtool")
    assert "SUCCESS: 20 rules found" in run(promtool, "check", "rules", str(REPO_ROOT / PROMETHEUS_RULES_FILE))
    assert "SUCCESS" in run(promtool, "test", "rules", str(RULE_TESTS))


def test_every_alert_says_what_happened_and_where_to_look() -> None:
    rules = yaml.safe_load((REPO_ROOT / PROMETHEUS_RULES_FILE).read_text())
    alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
    names = {a["alert"] for a in alerts}
    assert {"FrictionSpike", "RepeatContactSurge", "DLQRateHigh", "PipelineStalled", "SinkFailing"} <= names
    tested = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text()))
    assert names <= tested, f"alerts without a promtool test: {names - tested}"
    for alert in alerts:
        assert alert["labels"]["severity"] in ("critical", "warning"), alert["alert"]
        assert {"summary", "description", "dashboard"} <= set(alert["annotations"]), alert["alert"]
        assert re.search(r"/d/journey-(friction|funnels|pipeline)\b", alert["annotations"]["dashboard"]), alert["alert"]
    spikes = [a for a in alerts if a["alert"] == "FrictionSpike"]
    assert {a["labels"]["kind"] for a in spikes} == set(Settings().alerts.spike_floor_per_minute) - {"repeat_contact"}


def test_alertmanager_config_routes_by_severity_and_groups_by_kind_and_flow() -> None:
    amtool = tool("amtool")
    run(amtool, "check-config", str(ALERTMANAGER_CONFIG))
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    assert config["route"]["group_by"] == ["alertname", "kind", "flow"]

    def receivers(*labels: str) -> str:
        return run(
            amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}", *labels, stdout_only=True
        ).strip()

    assert (
        receivers("alertname=FrictionSpike", "severity=critical", "kind=abandonment", "flow=checkout", "team=cx")
        == "pager,cx-channel"
    )
    assert receivers("alertname=FrictionSpike", "severity=warning", "kind=rage_click", "team=cx") == "cx-channel"
    assert receivers("alertname=SinkFailing", "severity=critical", "team=platform") == "pager,platform-channel"
    assert receivers("alertname=DLQRateHigh", "severity=warning", "team=platform") == "platform-channel"


def datasource_uids() -> dict[str, str]:
    provisioned = yaml.safe_load((PROVISIONING / "datasources/datasources.yaml").read_text())
    return {d["uid"]: d["type"] for d in provisioned["datasources"]}


def test_boards_reference_provisioned_datasources_and_their_own_variables() -> None:
    uids = datasource_uids()
    for path in sorted((REPO_ROOT / DASHBOARDS_DIR).glob("*.json")):
        board = json.loads(path.read_text())
        variables = {v["name"] for v in board["templating"]["list"]}
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: panel ids repeat"
        for panel in board["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, f"{path.name}: {panel['title']} overflows the grid"
            for target in panel["targets"]:
                source = target["datasource"]
                assert uids.get(source["uid"]) == source["type"], f"{path.name}: {panel['title']} → {source}"
                text = target.get("rawSql") or target.get("expr")
                used = {m[1] or m[3] for m in VARIABLE.finditer(text)} - {"__rate_interval"}
                assert used <= variables, f"{path.name}: {panel['title']} uses {used - variables}"
        for variable in board["templating"]["list"]:
            if "datasource" in variable:
                assert variable["datasource"]["uid"] in uids, f"{path.name}: variable {variable['name']}"


def test_grafana_managed_alert_rule_is_well_formed() -> None:
    """Grafana's alerting provisioning format: every rule's condition names one of its queries,
    expressions read queries that exist, queries use provisioned datasources."""
    provisioned = yaml.safe_load((REPO_ROOT / GRAFANA_ALERTS_FILE).read_text())
    assert provisioned["apiVersion"] == 1
    uids = datasource_uids()
    for group in provisioned["groups"]:
        assert {"orgId", "name", "folder", "interval", "rules"} <= set(group)
        for rule in group["rules"]:
            assert {"uid", "title", "condition", "data", "for", "labels", "annotations"} <= set(rule), rule.get("uid")
            ref_ids = [d["refId"] for d in rule["data"]]
            assert len(ref_ids) == len(set(ref_ids)) and rule["condition"] in ref_ids
            for query in rule["data"]:
                assert query["model"]["refId"] == query["refId"]
                if query["datasourceUid"] == "__expr__":
                    assert query["model"]["expression"] in ref_ids and query["model"]["type"] in (
                        "threshold",
                        "reduce",
                        "math",
                    )
                else:
                    assert query["datasourceUid"] in uids and query["relativeTimeRange"]["from"] > 0
                    assert "$__toTime" in query["model"]["rawSql"]
            assert rule["annotations"]["__dashboardUid__"] in all_boards(Settings())


@pytest.mark.parametrize("path", ["datasources/datasources.yaml", "dashboards/journey.yaml"])
def test_provisioning_takes_connection_details_from_the_environment(path: str) -> None:
    text = (PROVISIONING / path).read_text()
    yaml.safe_load(text)
    if "datasources" in path:
        assert {"${CLICKHOUSE_URL}", "${CLICKHOUSE_USER}", "${CLICKHOUSE_PASSWORD}", "${PROMETHEUS_URL}"} <= set(
            re.findall(r"\$\{\w+\}", text)
        )


def test_compose_mounts_the_generated_files_where_the_tools_look() -> None:
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    assert "./deploy/prometheus:/etc/prometheus:ro" in compose["services"]["prometheus"]["volumes"]
    prometheus = yaml.safe_load((REPO_ROOT / "deploy/prometheus/prometheus.yml").read_text())
    assert (
        prometheus["rule_files"] == ["/etc/prometheus/rules/*.yml"]
        and Path(PROMETHEUS_RULES_FILE).parent.name == "rules"
    )
    grafana = compose["services"]["grafana"]["volumes"]
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in grafana
    assert "./grafana/dashboards:/var/lib/grafana/dashboards:ro" in grafana
