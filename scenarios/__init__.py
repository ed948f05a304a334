"""stemtwin.scenarios: the scenario registry, runner, metrics, reports and the ``stemtwin`` CLI."""
