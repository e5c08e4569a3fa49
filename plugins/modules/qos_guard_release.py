# -*- coding: utf-8 -*-
# Copyright: resilience.ops contributors
# MIT License (see LICENSE)

# Documentation only: resilience.ops.qos_guard_release is a Go binary (plugins/modules/__bin/), run
# by the action plugin of the same name on the build that matches the target's platform.

from __future__ import annotations

DOCUMENTATION = r"""
module: qos_guard_release
short_description: Release the QoS guard window only when the SLOs hold in Prometheus and Loki
version_added: "1.0.0"
description:
  - Evaluates service-level checks against Prometheus and Loki over a stability window and releases
    (unlocks) the QoS guard window kept by M(resilience.ops.qos_guard) only when every check passes.
  - "Three built-in checks: the 5xx ratio and the health ratio of I(job) in Prometheus, and the rate of
    error lines of I(job) in Loki (see the notes for the exact queries). Built-in checks can be
    turned off with I(disable) and checks of your own added with I(checks). All checks run
    concurrently, each bounded by I(query_timeout)."
  - Each check ends as C(pass), C(fail), C(unknown) (no data, NaN, a server that cannot be reached or
    fails, a timeout, a value outside what the check can take, a sample stamped outside the window, a
    redirect to another origin) or C(config_error) (a query the server rejects, an ambiguous result with
    several series, refused credentials, a wrong URL, an untrusted certificate). The system is
    stable only when every check passes. No data never passes, except for the error log rate, where
    no matching line counts as zero once the job's log stream is known to have lines.
  - The stability window must not reach back before the event that locked the guard. While the guard
    was locked or extended less than one I(window) ago (its C(window_start), kept in the guard itself;
    the audit trail is never needed), the result is C(not_yet_evaluable) with the time left
    (I(wait_seconds)), nothing is queried, nothing is unlocked, and the task fails unless I(report_only)
    is set (with I(wait), it waits instead). When the guard expires before the window and one
    evaluation (I(query_timeout)) can end, the task warns, as that guard can never be released early
    (lock it for longer than the window plus the evaluation).
  - Only the exact lock that was evaluated is released, with the expiry it had; a new lock or an
    extension made while the checks ran (an extension keeps the lock id) wins, and the decision is
    made again on the lock there now. With I(store=etcd) the comparison is part of the compare-and-swap.
  - When stable and the guard is locked, it is unlocked and a C(release) event is appended to its
    audit trail C(<path>.audit.jsonl) with the whole evaluation (every check's query, value,
    threshold and outcome); the task reports a change. When stable and the guard is not locked,
    nothing changes.
  - When not stable the guard stays locked and the task fails with a message that names each failing
    or unknown check and its value, unless I(report_only) is set. A configuration error is reported
    as such (status C(config_error)) and always fails the task.
  - With I(wait), the checks are re-evaluated every I(poll_interval) until they pass or
    I(wait_timeout) has passed; the guard stays locked throughout.
  - The same program is a command-line tool, C(qos_guard_release), configured by the environment
    variables C(PROMETHEUS_URL), C(LOKI_URL), C(THREADER_JOB), C(MAX_5XX_RATIO), C(MIN_HEALTH_RATIO),
    C(MAX_ERROR_LOGS_PER_MIN), C(STABILITY_WINDOW) and C(QOS_GUARD_FILE) (flags override them); it
    exits 0 when stable, 1 when unstable, 3 when unknown or not yet evaluable, and 2 on usage,
    configuration or guard-file errors.
extends_documentation_fragment:
  - resilience.ops.guard_store
  - resilience.ops.etcd
  - resilience.ops.module_cache
author:
  - resilience.ops contributors
options:
  prom_url:
    description:
      - Base URL of the Prometheus HTTP API (without C(/api/v1)). Credentials in the URL
        (C(https://user:pass@host)) are used as basic auth and never shown.
      - Redirects are followed only within this URL's origin (scheme, host and port). A redirect to
        another host or port, or from https to http on the same host, is not followed; the credentials
        never go there and the checks are C(unknown) (reason C(redirect)).
    type: str
    default: http://prometheus.local:9090
  loki_url:
    description:
      - Base URL of Loki (without C(/loki)); queries go to C(<loki_url>/loki/api/v1/query).
      - Redirects are treated as for I(prom_url).
    type: str
    default: http://loki.local:3100
  job:
    description:
      - Value of the C(job) label in the built-in queries. Quotes and backslashes are escaped.
    type: str
    default: threader
  max_5xx_ratio:
    description:
      - The C(http_5xx_ratio) check passes when the average 5xx ratio over the window is at most this
        (inclusive). A ratio between 0 and 1.
    type: float
    default: 0.01
  min_health_ratio:
    description:
      - The C(health_ratio) check passes when the average health ratio over the window is at least
        this (inclusive). A ratio between 0 and 1.
    type: float
    default: 0.995
  max_error_logs_per_min:
    description:
      - The C(error_log_rate) check passes when the matching error lines in the window, divided by the
        window in minutes, are at most this (inclusive), 0 to 1000000.
    type: float
    default: 1
  window:
    description:
      - The stability window, a Prometheus duration such as C(15m) or C(1h30m), that is how far back
        every built-in check looks, at most C(1w) (the longest guard window). It must lie entirely after the
        event that locked the guard.
    type: str
    default: 15m
  path:
    description:
      - The guard's lock file, as in M(resilience.ops.qos_guard).
    type: path
    default: /run/threader.qos.guard
    aliases: [lock_file]
  disable:
    description:
      - Built-in checks to skip. At least one check (built-in or from I(checks)) must remain.
    type: list
    elements: str
    choices: [http_5xx_ratio, health_ratio, error_log_rate]
  checks:
    description:
      - Checks of your own, evaluated beside the enabled built-in ones. Each query must return a single
        number (one series, so aggregate it with C(sum) or C(max), or a scalar); Loki queries must be
        metric queries. The check passes when C(value <comparison> threshold) holds.
    type: list
    elements: dict
    suboptions:
      name:
        description: A unique name; not the name of an enabled built-in check.
        type: str
        required: true
      source:
        description: The server to query.
        type: str
        choices: [prometheus, loki]
        default: prometheus
      query:
        description: The PromQL or LogQL metric query, run as an instant query at the evaluation time.
        type: str
        required: true
      comparison:
        description: How the value is compared with the threshold.
        type: str
        choices: ["<", "<=", ">", ">=", "==", "!="]
        required: true
      threshold:
        description: The threshold.
        type: float
        required: true
      no_data:
        description:
          - What an empty result means. C(unknown) makes the check unknown, C(fail) makes it fail,
            C(zero) compares 0 with the threshold.
        type: str
        choices: [unknown, fail, zero]
        default: unknown
  query_timeout:
    description:
      - Bounds each check on its own (seconds, or a duration such as C(10s); 1ms to 10m). Checks run
        concurrently, so one evaluation takes about as long as the slowest check.
    type: str
    default: 10s
  prom_bearer_token:
    description: "Sent to Prometheus as C(Authorization: Bearer <token>). Not with basic auth."
    type: str
    no_log: true
  prom_username:
    description: Basic auth user for Prometheus.
    type: str
  prom_password:
    description: Basic auth password for Prometheus; needs I(prom_username).
    type: str
    no_log: true
  prom_headers:
    description:
      - Extra HTTP headers sent to Prometheus. Their values are treated as secrets. C(Host) cannot be
        set, nor C(Authorization) when a token or basic auth sets it.
    type: dict
    no_log: true
  prom_ca_file:
    description: PEM bundle of the CAs that Prometheus's certificate is checked against (instead of the system's).
    type: path
  prom_client_cert:
    description: PEM client certificate for Prometheus; needs I(prom_client_key).
    type: path
  prom_client_key:
    description: PEM key of I(prom_client_cert).
    type: path
  prom_validate_certs:
    description: Whether Prometheus's TLS certificate is verified. Turn off only for tests.
    type: bool
    default: true
  loki_bearer_token:
    description: "Sent to Loki as C(Authorization: Bearer <token>). Not with basic auth."
    type: str
    no_log: true
  loki_username:
    description: Basic auth user for Loki.
    type: str
  loki_password:
    description: Basic auth password for Loki; needs I(loki_username).
    type: str
    no_log: true
  loki_headers:
    description:
      - Extra HTTP headers sent to Loki. Their values are treated as secrets. C(X-Scope-OrgID) cannot
        be set here when I(loki_tenant) sets it.
    type: dict
    no_log: true
  loki_tenant:
    description:
      - The Loki tenant, sent as C(X-Scope-OrgID). Required by Loki with C(auth_enabled); a wrong
        tenant shows as no log lines at all, which makes C(error_log_rate) unknown, not zero.
    type: str
  loki_ca_file:
    description: PEM bundle of the CAs that Loki's certificate is checked against (instead of the system's).
    type: path
  loki_client_cert:
    description: PEM client certificate for Loki; needs I(loki_client_key).
    type: path
  loki_client_key:
    description: PEM key of I(loki_client_cert).
    type: path
  loki_validate_certs:
    description: Whether Loki's TLS certificate is verified. Turn off only for tests.
    type: bool
    default: true
  report_only:
    description:
      - Never fail the task on instability (C(unstable), C(unknown), C(not_yet_evaluable)), only report
        it. The guard is still released when stable. Configuration and guard-file errors still fail.
    type: bool
    default: false
  wait:
    description:
      - Re-evaluate every I(poll_interval) until every check passes, or until I(wait_timeout) has passed.
        While the window is not yet evaluable, sleep until it is (or give up at once when that lies
        beyond I(wait_timeout)). A configuration error ends the wait at once. The guard stays locked
        throughout and is released only after an evaluation in which every check passed.
      - For long waits over SSH, consider C(async) with C(poll).
    type: bool
    default: false
  poll_interval:
    description: With I(wait), the pause between two evaluations (seconds, or a duration such as C(30s); 1s to 24h).
    type: str
    default: 30s
  wait_timeout:
    description: With I(wait), the budget of the whole wait, sleeps included (seconds, or a duration such as C(30m); 0 to 24h).
    type: str
    default: 30m
  textfile_dir:
    description:
      - A directory read by node_exporter's textfile collector. When given, the last evaluation is written
        there (not in check mode), atomically, as C(resilience_qos_release_<path>.prom) with mode 0644, with
        C(resilience_qos_release_stable), C(resilience_qos_release_last_evaluation_timestamp_seconds), and per
        check C(resilience_qos_release_check_value), C(resilience_qos_release_check_threshold) and
        C(resilience_qos_release_check_outcome) (1 for the outcome it had), labelled C(guard) and C(check).
      - A failed write is a warning, never a failure of the task.
    type: path
attributes:
  check_mode:
    support: full
    description: Evaluates every check and reports C(would_unlock); the guard and its audit trail are left alone.
  diff_mode:
    support: full
    description: Shows the guard before and after a release.
  platform:
    platforms: [posix, windows]
    description: Builds for linux/amd64, linux/arm64 and windows/amd64 are chosen by the target's platform.
notes:
  - "The built-in checks run these instant queries at the evaluation time (C(<job>) and C(<window>) as set):"
  - "C(http_5xx_ratio), PromQL: C(avg_over_time(job:http_5xx_ratio_1m{job=\"<job>\"}[<window>])) <= I(max_5xx_ratio)."
  - "C(health_ratio), PromQL: C(avg_over_time(job:health_ok_ratio_1m{job=\"<job>\"}[<window>])) >= I(min_health_ratio)."
  - "C(error_log_rate), LogQL: C(sum(count_over_time({job=\"<job>\"} |~ \"ERROR|Exception|Traceback\" [<window>])))
    divided by the window in minutes <= I(max_error_logs_per_min). When no line matches, Loki returns an
    empty result; it counts as 0 only when C(sum(count_over_time({job=\"<job>\"}[<window>]))) finds lines
    (otherwise the job label or the tenant is wrong and the check is unknown)."
  - The release playbook this module replaces used C(sum(rate({job="threader"} |~ "ERROR|Exception|Traceback"[1m]))),
    which is a per-second rate over the last minute only; the count over the whole window, per minute,
    matches I(max_error_logs_per_min).
  - The recording rules C(job:http_5xx_ratio_1m) and C(job:health_ok_ratio_1m) must exist in Prometheus.
  - AAP job artifacts are published on success (C(ansible_stats) with C(per_host=false)) as
    C(qos_release_stable), C(qos_release_unlocked), C(qos_release_status) and C(qos_release_checks)
    (name, outcome, value, comparison, threshold of each check). ansible-core drops the stats of
    failed tasks, so an unstable result publishes them only with I(report_only).
  - Tokens, passwords and header values are never returned, and are removed from server error
    messages. Times are RFC 3339 in UTC.
seealso:
  - module: resilience.ops.qos_guard
"""

EXAMPLES = r"""
- name: Release the guard window once the SLOs have held for 15 minutes
  resilience.ops.qos_guard_release:
    prom_url: https://prometheus.example.com
    loki_url: https://loki.example.com
    loki_tenant: threader
    loki_bearer_token: "{{ vault_loki_token }}"
    job: threader

- name: Wait for stability after a rollback, for up to 45 minutes
  resilience.ops.qos_guard_release:
    prom_url: "{{ prometheus_url }}"
    loki_url: "{{ loki_url }}"
    window: 15m
    wait: true
    poll_interval: 60
    wait_timeout: 45m
  register: release

- name: Report the SLOs without failing (for a dashboard job)
  resilience.ops.qos_guard_release:
    report_only: true
  register: slo_report

- name: Prometheus only, with a latency check of our own
  resilience.ops.qos_guard_release:
    disable: [error_log_rate]
    checks:
      - name: p99_latency
        query: histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{job="threader"}[15m])))
        comparison: "<="
        threshold: 0.5
        no_data: fail

- name: Would the guard be released? (changes nothing)
  resilience.ops.qos_guard_release:
  check_mode: true
  register: preview
"""

RETURN = r"""
stable:
  description: Whether every check passed.
  returned: always
  type: bool
  sample: true
status:
  description:
    - C(stable), C(unstable) (a check failed), C(unknown) (no check failed, some could not tell),
      C(config_error) (a parameter or query was rejected; nothing was decided), C(not_yet_evaluable)
      (the window would reach back before the guard was locked) or C(guard_error) (the guard file
      cannot be read or changed; it counts as locked).
  returned: always
  type: str
  sample: stable
unlocked:
  description: Whether this task released the guard.
  returned: always
  type: bool
  sample: true
would_unlock:
  description: In check mode, whether the guard would have been released.
  returned: always
  type: bool
  sample: false
evaluable:
  description: Whether the window lay entirely after the event that locked the guard (always true when it is not locked).
  returned: always
  type: bool
  sample: true
wait_seconds:
  description: When not yet evaluable, the seconds until the window no longer reaches back before the lock; else 0.
  returned: always
  type: int
  sample: 0
evaluable_at:
  description: When the guard is locked, the time from which it can be evaluated (lock event + window); else empty.
  returned: always
  type: str
  sample: "2026-11-23T10:15:00Z"
window:
  description: The stability window as written in the queries.
  returned: always
  type: str
  sample: 15m
checks:
  description: The result of each check of the last evaluation; empty when nothing was evaluated.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The check's name.
      type: str
      sample: http_5xx_ratio
    source:
      description: C(prometheus) or C(loki).
      type: str
      sample: prometheus
    query:
      description: The query that was run.
      type: str
      sample: avg_over_time(job:http_5xx_ratio_1m{job="threader"}[15m])
    volume_query:
      description: For C(error_log_rate), the query that tells no matching line from no log stream.
      type: str
      returned: for error_log_rate
    value:
      description: The value compared with the threshold (lines per minute for C(error_log_rate)); null when there is none.
      type: float
      sample: 0.002
    threshold:
      description: The threshold.
      type: float
      sample: 0.01
    comparison:
      description: How the value is compared with the threshold.
      type: str
      sample: "<="
    outcome:
      description: C(pass), C(fail), C(unknown) or C(config_error).
      type: str
      sample: pass
    reason:
      description:
        - Why the check did not simply pass or fail, for example C(no_data), C(unreachable), C(timeout), C(bad_query), C(auth).
        - C(out_of_domain) when the value is outside what the check can take (a ratio outside 0 to 1, a negative
          count or volume); C(stale_sample) when the sample is stamped before the window or more than a minute after
          the evaluation time (a server stamps an instant query's sample with the query's time); C(redirect) when the
          server redirected to another origin. Each makes the check C(unknown), never a pass.
      type: str
      returned: when the value was not compared
      sample: no_data
    message:
      description: One line that explains the outcome, with the value and the threshold.
      type: str
      sample: 5xx ratio 0.002 <= 0.01
    warnings:
      description: Warnings the server sent with its answer.
      type: list
      elements: str
      returned: when the server sent some
evaluated_at:
  description: The evaluation time of the last evaluation (RFC 3339, UTC); empty when nothing was evaluated.
  returned: always
  type: str
  sample: "2026-11-23T10:20:00Z"
attempts:
  description: How many evaluations were made (more than one only with I(wait)).
  returned: always
  type: int
  sample: 1
guard:
  description: The guard after the task (in check mode, as it would be), with the keys that M(resilience.ops.qos_guard) returns.
  returned: always
  type: dict
  contains:
    locked:
      description: Whether the guard is locked.
      type: bool
    path:
      description: The lock file.
      type: str
    lock_id:
      description: Id of the active lock; empty when unlocked.
      type: str
    locked_at:
      description: When the active lock was taken.
      type: str
    expires_at:
      description: When the active lock expires.
      type: str
    remaining_seconds:
      description: Seconds until the lock expires.
      type: int
    owner:
      description: Who holds the lock.
      type: str
    reason:
      description: Why the guard is locked.
      type: str
    window_minutes:
      description: The window the lock was taken for.
      type: int
    window_start:
      description: When the latest lock or extension was made; the stability window must lie after it.
      type: str
    corrupt:
      description: Whether the lock file could not be read.
      type: bool
    unknown:
      description: Whether the guard's store could not be reached (etcd); the guard then counts as locked and is never released.
      type: bool
  sample:
    locked: false
    path: /run/threader.qos.guard
"""
