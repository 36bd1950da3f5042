"""Grafana boards and alert rules as code: `journey dashboards write` renders them from the
settings into grafana/ and deploy/prometheus/, where they are committed; a test keeps them equal."""
