#!/usr/bin/python3
"""Writes resilience-ops.dashboard.json, the Grafana dashboard of resilience.ops (schema 39,
importable through Dashboards > New > Import). Edit the panels here, then run this script
(usage: gen_dashboard.py [output path])."""

import json
import os
import sys

PANELS = [
    # (title, type, [(expr, legend)], unit, description)
    ("QoS guard locked", "state-timeline",
     [('max by (instance, guard) (resilience_qos_guard_locked)', "{{instance}} {{guard}}")], "none",
     "1 while the guard window is locked (a corrupt guard counts as locked), over time, per host and guard file."),
    ("Guard time left", "timeseries",
     [('clamp_min(resilience_qos_guard_expiry_timestamp_seconds - time(), 0)'
       ' and on (instance, guard) resilience_qos_guard_locked == 1', "{{instance}} {{guard}}")], "s",
     "Seconds until the lock expires, while locked."),
    ("SLO values against their thresholds", "timeseries",
     [('resilience_qos_release_check_value', "{{check}} value"),
      ('resilience_qos_release_check_threshold', "{{check}} threshold")], "none",
     "The last value of each SLO check of qos_guard_release, with its threshold as a second line."),
    ("SLO check outcomes", "state-timeline",
     [('max by (check) (resilience_qos_release_check_outcome{outcome="pass"})', "{{check}} passing")], "none",
     "1 when the check passed in the last evaluation, 0 when it failed or was unknown."),
    ("Retries per operation", "timeseries",
     [('sum by (operation) (increase(retry_retries_total[1h]))', "{{operation}}")], "none",
     "Retries (attempts after the first) per operation over the last hour."),
    ("Failed attempts by error type", "timeseries",
     [('sum by (operation, error_type) (increase(retry_attempt_failures_total[1h]))', "{{operation}} {{error_type}}")], "none",
     "What keeps failing: failed attempts per operation and error type over the last hour."),
    ("Session success ratio", "timeseries",
     [('retry_session_success_ratio', "{{job}}")], "percentunit",
     "The success rate of the latest retry session (alert below 85 %)."),
    ("Average retries per operation", "timeseries",
     [('retry_session_average_retries', "{{job}}")], "none",
     "The average retry count of the latest retry session (alert above 2.5)."),
    ("Circuit breaker states", "state-timeline",
     [('max by (key, state) (resilience_circuit_breaker_state)', "{{key}} {{state}}")], "none",
     "1 for the current state (closed, open, half_open) of each circuit breaker, per circuit key, as retry_manager"
     " writes it with textfile_dir (alert when open for more than a minute)."),
]


def panel(i, title, kind, targets, unit, description):
    return {
        "id": i + 1,
        "title": title,
        "description": description,
        "type": kind,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 12, "x": (i % 2) * 12, "y": (i // 2) * 8},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
        "targets": [{"refId": chr(ord("A") + j), "expr": expr, "legendFormat": legend,
                     "datasource": {"type": "prometheus", "uid": "${datasource}"}}
                    for j, (expr, legend) in enumerate(targets)],
    }


def main():
    dash = {
        "title": "resilience.ops: QoS guard and retries",
        "uid": "resilience-ops",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "time": {"from": "now-24h", "to": "now"},
        "refresh": "1m",
        "tags": ["resilience.ops", "ansible"],
        "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus",
                                 "label": "Prometheus"}]},
        "panels": [panel(i, *p) for i, p in enumerate(PANELS)],
    }
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "resilience-ops.dashboard.json")
    with open(out, "w") as f:
        json.dump(dash, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
