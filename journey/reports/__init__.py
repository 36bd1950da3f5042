"""The read side: the report, the journey map and a customer's journey, read from ClickHouse and
rendered as JSON, HTML and charts (for the CLI, the worker's web views and report.html)."""
