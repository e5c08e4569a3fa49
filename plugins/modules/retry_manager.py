# -*- coding: utf-8 -*-
# Copyright: resilience.ops contributors
# MIT License (see LICENSE)

# Documentation only: resilience.ops.retry_manager is a Go binary (plugins/modules/__bin/), run by
# the action plugin of the same name on the build that matches the target's platform.

from __future__ import annotations

DOCUMENTATION = r"""
module: retry_manager
short_description: Run a command or an HTTP request with retries, backoff, jitter and error classes
version_added: "1.0.0"
description:
  - Runs an operation, a command or an HTTP request, and retries it when it fails with an error of a
    retryable kind, waiting longer between attempts by the chosen policy. Unlike C(until)/C(retries),
    it backs off, adds jitter, classifies errors so that a wrong password fails at once, honours a
    server's C(Retry-After), and can stop at an overall deadline.
  - "C(exponential_backoff) (default): delay = min(base_delay * backoff_multiplier ^ n, max_delay) for the
    n-th retry counted from 0, so base 5 and multiplier 2 give 5, 10, 20, 40, 80 seconds."
  - "C(linear_backoff): delay = min(base_delay * n, max_delay), n from 1: base 10 gives 10, 20, 30, 40, 50."
  - "C(fixed_delay): base_delay every time."
  - Jitter spreads clients that failed together. C(additive) (default) adds up to 10% of the delay, which
    keeps the schedule predictable. C(full) waits a random time between 0 and the delay, which spreads
    clients most and makes the fewest calls under contention, at the cost of sometimes retrying almost at
    once. C(equal) waits half the delay plus a random half. C(decorrelated) grows from base_delay to three
    times the previous wait, capped by max_delay. C(none) keeps the exact delays; clients that failed
    together then retry together.
  - Failures are classified into error types by built-in rules (HTTP statuses, network errors, timeouts,
    exit codes and common messages, for example "Connection timeout to vCenter" is a connection_error),
    after the user's I(error_rules), which win. Only the types in I(retry_conditions) are retried; a
    failure that no rule recognises is an unknown_error, retried when I(retry_unknown) is set.
  - 'The exact wording of the tools such jobs run is recognised before the general words, in any of msg,
    stderr and stdout: vSphere faults as govc, pyvmomi and community.vmware report them (a wrong password,
    C(ServerFaultCode: Cannot complete login due to an incorrect user name or password.), is an
    authentication_error and fails at once; ResourceInUse and TaskInProgress are resource_busy;
    InvalidArgument and DuplicateName are invalid_parameter); the exit code curl prints after C(curl:),
    and the status of C(curl -f); the refusals of OpenSSH (C(Permission denied) followed by the list of
    methods is an authentication_error, also after the C(Failed to connect to the host via ssh) of Ansible);
    resolver and socket errors as glibc and Go word them; certificate failures (configuration_error);
    HTTP status lines. C(curl -s) prints no message: use C(-sS), or a rule with I(exit_code).'
  - Per-operation settings in I(operation_configs) override the task's settings, which override the
    defaults.
  - In check mode nothing runs; the result gives the planned schedule, each attempt's delay and the
    worst-case total time.
  - The result is the operation record that retry reports consume, with each attempt, and why retrying
    stopped (C(stop_reason)).
  - The same program is the command-line tool C(retry_backoff <max_attempts> <base_seconds> -- command).
  - "Sessions group the operations of one run. Besides C(run), I(action) drives a session: C(start) creates or
    joins one; C(record) records one attempt of an operation that ran elsewhere (Ansible tasks run by the
    C(resilience.ops.retry_manager) role) and returns its error type, whether to retry and the delay, computed by
    the same code as C(run); C(finalize) computes the session's statistics and alerts; C(cleanup) and C(compress)
    apply retention; C(wait) waits a computed delay to the millisecond."
  - "Session files live in I(state_dir): C(retry_session_<id>.json), the session's head (its statistics, status and
    bookkeeping, a few KiB, no operations); C(retry_session_<id>.d/), its operations, per host, as append-only
    JSON lines (C(<host key>.<n>.jsonl), one operation record a line, the last line of an operation id being its
    current version, and C({\"error_entry\": ...}) lines for the error log); C(retry_performance_<id>.json) and
    C(retry_session_error_<id>.json), written by C(finalize); C(attempt_<operation_id>_<n>.json) (with
    I(log_individual_attempts)). A record writes one line to its host's records only, so it costs the same
    whatever the session holds, and hosts never wait for each other; finalize reads the records as a stream, in
    bounded memory. Files are written atomically (a record is one write; a killed writer never leaves a record
    that is read half), mode 0600 in directories created 0700. Sessions written by earlier versions (one file
    with the operations) are read as they are and moved to this layout by their next write. See I(state_dir) for
    which directories and files are refused."
  - "Guardrails, all off unless enabled, shared by every process that uses the same I(circuit_key) (default: the
    operation's name) and I(state_dir), in C(<state_dir>/circuit/) on this host, or by a whole fleet with
    I(store=etcd): a I(circuit_breaker) that opens after
    consecutive failures (or a failure rate) and then fails operations at once with error type C(circuit_open),
    without running them, until I(circuit_breaker.open_duration) has passed and a trial call succeeds; a
    I(bulkhead) that bounds the operations running at once on this host or fleet (C(bulkhead_full) after
    I(bulkhead.max_wait)); a I(retry_budget) that refuses retries beyond a share of the calls
    (C(retry_budget_exhausted)); and I(adaptive) retry, which lowers max_attempts and lengthens the delays while
    the recent success rate is below a target. Only failures of a type that is retried count against the breaker:
    a wrong password does not mean the service is down. The result shows what applied (C(circuit_breaker),
    C(bulkhead), C(retry_budget), C(adaptation)). A state file that cannot be read lets the operation through with
    a warning: the guardrails never fail an operation because of their own state."
  - "C(send_metrics) and C(send_alerts) deliver a session's metrics, or an alert when a threshold of I(monitoring)
    is breached, to the I(external_systems): Prometheus remote write, the Pushgateway, node_exporter's textfile
    collector, Slack, Datadog and webhooks. Systems are sent to concurrently, each with its own timeout and
    retries. A failed delivery is a warning and an entry of C(deliveries), never a failure, unless the system is
    C(required). An alert is sent once per breach group: the first host of the session to claim it sends it."
extends_documentation_fragment:
  - resilience.ops.etcd
  - resilience.ops.module_cache
author:
  - resilience.ops contributors
options:
  action:
    description:
      - C(run) runs the command (I(argv), I(cmd)) or the HTTP request (I(url)) with retries.
      - C(start) creates the session I(session_id) (a new id when not given) or joins it. With I(operation) it also
        returns the operation's resolved settings (C(max_attempts), C(policy)).
      - C(record) records, in session I(session_id), one attempt of I(operation) described by I(outcome) (give
        I(operation_id) and I(attempt) from the second attempt on), or a finished C(run) given as I(operation_result).
        It returns C(error_type), C(should_retry), C(delay) and C(next_attempt).
      - C(finalize) computes the final statistics and the alerts of I(monitoring), sets the session's status to
        I(session_status) and writes the performance metrics file.
      - C(cleanup) removes sessions by I(retention), C(compress) gzips them; the session I(session_id) is left alone.
      - C(wait) waits I(seconds), to the millisecond (C(ansible.builtin.pause) and C(ansible.builtin.wait_for) take
        whole seconds, and C(pause) runs once for all hosts of a batch).
      - C(admit) asks the I(circuit_breaker) whether the next attempt of I(operation), which runs elsewhere (the tasks
        of the C(resilience.ops.retry_manager) role), may run. While the breaker is open it ends the operation in
        session I(session_id) with error type C(circuit_open) and returns C(admitted=false) and C(retry_in), so that
        the attempt is not made. C(record) records each result with the breaker and asks the I(retry_budget) before a
        retry.
      - C(send_metrics) delivers the metrics of session I(session_id) to the I(external_systems) that take metrics.
        C(send_alerts) delivers an alert to those that take alerts, only when a threshold of I(monitoring) is
        breached, and only once per breach group for all the hosts of the session.
    type: str
    choices: [run, start, record, finalize, cleanup, compress, wait, admit, send_metrics, send_alerts]
    default: run
  operation:
    description:
      - The operation's name, recorded in the result and used to pick I(operation_configs).
      - Required by I(action=run) and I(action=record).
    type: str
    aliases: [retry_current_operation]
  context:
    description:
      - Context recorded with the operation (for example the VM name), returned as is.
      - A C(call_stack_session_id) in it is kept in the session for correlation.
    type: dict
    aliases: [retry_component_context]
  session_id:
    description:
      - The retry session, C(retry_<unix>_<digits>). With C(run), a new id when not given.
      - Required by I(action=record) and I(action=finalize); any other form is rejected, so that an id can never
        name a file outside I(state_dir).
    type: str
  settings:
    description:
      - The role's C(retry_manager) dictionary. Its keys replace the task's parameters of the same names (the retry
        settings, I(operation_configs), I(error_rules), I(debug_mode), I(log_individual_attempts), I(state_dir),
        I(monitoring), I(retention)); I(operation_configs) still wins for its operation.
      - Also I(circuit_breaker), I(bulkhead), I(retry_budget), I(adaptive), I(circuit_key), I(external_systems),
        I(store) and the etcd options. An empty C(store) or etcd option (the role's default) leaves the task's.
      - C(external_integration) and C(integration) are accepted and not used by the module (the role's handlers use
        C(external_integration)).
      - The values of C(url), C(auth_header) and C(headers) of C(external_systems), and C(etcd_password), are masked
        and never returned.
    type: dict
  state_dir:
    description:
      - The directory of the session files and of the guardrails' state (C(<state_dir>/circuit/)); created
        with mode 0700 when missing.
      - State lives only where the user the module runs as alone can change it. I(state_dir) and every
        directory above it must belong to that user or root and must not be writable by other users unless
        they have the sticky bit (as C(/tmp) has); no symbolic link is followed on the way. So the default
        C(/tmp/ansible_retry) is used only when this user (or root) made it, and each user (with or without
        become) needs a I(state_dir) of its own. The files in it must be regular files of that user or root,
        with one link, that other users cannot write to; a named pipe is refused without blocking.
      - A refused directory or file is named, with its owner, in a warning (sessions are then not recorded,
        and the guardrails let the operation through), or in the error of the session actions; nothing is
        created in it.
      - A state file is at most 8 MiB; an update that would make it larger is refused before anything is
        written.
      - A file lock that another process holds is waited for at most 20 seconds (the environment variable
        C(RESILIENCE_OPS_LOCK_WAIT), a duration such as C(5s), changes this); then the update is refused
        with a message that names the process and the user that hold it.
    type: path
    default: /tmp/ansible_retry
  track_session:
    description: With I(action=run), record the operation in session I(session_id) under I(state_dir).
    type: bool
    default: false
  log_individual_attempts:
    description: Also write each attempt to C(attempt_<operation_id>_<n>.json).
    type: bool
    default: false
  host:
    description: The inventory host the operation ran for, recorded with it.
    type: str
  operation_id:
    description:
      - With I(action=record), the operation that the attempt belongs to, as attempt 1 returned it. Without it a new
        operation is recorded.
    type: str
  attempt:
    description:
      - With I(action=record), the number of the attempt recorded, 1 to 10. When given it must be the next one, so a
        recorded attempt is never recorded twice.
    type: int
  attempt_start:
    description:
      - With I(action=record), when the attempt started, in Unix seconds (C(now().timestamp()) in a template), 0 to
        253402300799 (the end of year 9999).
    type: float
  outcome:
    description:
      - With I(action=record), what the attempt observed. C(failed) (bool) is required. C(result), the failed task's
        registered result (C(ansible_failed_result) in a rescue section), gives C(msg), C(stdout), C(stderr), C(rc),
        C(status) and the C(retry_after) header of M(ansible.builtin.uri), also of a loop's first failed item;
        the keys C(msg), C(stdout), C(stderr), C(rc), C(status) and C(retry_after) given directly win.
        C(task) names the failed task.
      - C(rc) is -255 to 4294967295 (Python reports a process killed by signal N as -N; Windows statuses are 32-bit),
        C(status) -1 (M(ansible.builtin.uri) without an answer) to 999.
    type: dict
  operation_result:
    description: With I(action=record), the registered result of a finished I(action=run), recorded as it is.
    type: dict
  operation_results:
    description:
      - With I(action=record), the registered results of finished runs of several hosts, recorded in one call (the
        role records its hosts' runs so, once per play batch). Each is recorded under its own host (its C(host), else
        I(host)); one already recorded as it is (the same operation_id, status, attempts and end) is left as it is.
        An entry that is not the result of a finished C(run) (planned in check mode, or skipped) is not recorded and
        is counted in C(not_recorded).
    type: list
    elements: dict
  session_status:
    description: With I(action=finalize), the status the session ends with.
    type: str
    choices: [completed, failed]
    default: completed
  monitoring:
    description:
      - With I(action=finalize), C(enabled) (default true) and C(alerts), the thresholds whose breaches are returned
        in C(alerts) - C(min_success_rate) (default 85, percent, 0 to 100), C(max_average_retries) (2.5, 0 to 10),
        C(max_execution_time) (1800 seconds, compared with total_execution_time, 0 to 31536000, a year) and
        C(max_error_rate) (15, percent, compared with failure_rate, 0 to 100). C(metrics) is accepted; every metric is
        always computed.
    type: dict
  retention:
    description:
      - With I(action=cleanup) and I(action=compress), C(max_age_days) (default 30) removes sessions not written for
        longer; C(max_sessions) (100) removes the oldest finalized sessions beyond that count; C(compress_after_days)
        (1) and C(compress_min_size) (1048576 bytes, finalized sessions only) choose the sessions to gzip. 0 turns a
        rule off. Active sessions are never removed by the count, and a session written while retention runs is
        kept.
      - The days are at most 36500 (100 years), C(max_sessions) at most 1000000, C(compress_min_size) at most
        1099511627776 (1 TiB).
    type: dict
  seconds:
    description: With I(action=wait), how long to wait, in seconds, 0 to 86400 (one day).
    type: float
  operation_configs:
    description:
      - Settings per operation name, each a dictionary of any of max_attempts, retry_policy, base_delay,
        max_delay, backoff_multiplier, jitter_enabled, jitter_mode, max_total_time, attempt_timeout,
        retry_conditions, retry_unknown, circuit_breaker, bulkhead, retry_budget, adaptive and circuit_key. The entry
        for I(operation) wins over the task's settings; inside circuit_breaker, bulkhead, retry_budget and adaptive,
        key by key.
    type: dict
  error_rules:
    description:
      - Ordered classification rules that win over the built-in ones. Each has C(error_type) and at least
        one of C(pattern) (a regular expression, case-insensitive, matched against C(field), one of any, message,
        error, stderr or stdout), C(exit_code) (-255 to 4294967295) and C(http_status) (100 to 599); all given
        conditions must match.
    type: list
    elements: dict
  debug_mode:
    description: Add to each attempt the evidence of its classification (which rule matched which text).
    type: bool
    default: false
  publish_artifacts:
    description:
      - With I(action=run), publish the operation's AAP job artifacts (see the notes). The role
        resilience.ops.retry_manager turns this off and publishes the same names itself, with the session's
        statistics.
    type: bool
    default: true
  argv:
    description:
      - The command to run, as a list; no shell is involved. Exclusive with I(cmd) and I(url).
      - The command's exit status is reported as it was, also when it leaves processes running (C(cmd &), a
        daemon) that hold its output open. When it exits, what it left running is ended (SIGTERM, then
        SIGKILL 2 seconds later), so an attempt leaves no process behind. On Linux the module adopts the
        command's orphans (it is their child subreaper) and finds them by the variable C(RESILIENCE_OPS_ATTEMPT)
        that it adds to the command's environment; a process that leaves the process group and clears its
        environment escapes. Other Unix systems end the process group only; on Windows only the command's own
        process is killed on timeout, and its children are left.
    type: list
    elements: str
  cmd:
    description:
      - The command to run, as a string split into words like a shell does (quotes, backslashes) but
        without expansions, unless I(use_shell) is set.
    type: str
  use_shell:
    description: Run I(cmd) with C(/bin/sh -c) (C(cmd.exe /C) on Windows).
    type: bool
    default: false
  chdir:
    description: The directory to run the command in. One that does not exist fails the attempt (rc 127,
      C(configuration_error)) with a message naming it.
    type: path
  environment:
    description: Variables added to the command's environment.
    type: dict
  stdin:
    description: Text given to the command on its standard input.
    type: str
  max_output:
    description: Bytes kept of stdout and of stderr (the last ones), 1024 to 16777216; the rest is dropped and flagged.
    type: int
    default: 65536
  url:
    description:
      - The URL of an HTTP request to make. Exclusive with I(argv) and I(cmd).
      - Each attempt is bounded by I(attempt_timeout), or by 30 seconds when it is 0, so that a server that
        never answers cannot hang the task.
      - Redirects are followed only within the URL's origin (scheme, host and port). A redirect to another
        host or port, or from https to http on the same host, is not followed and fails the attempt, so
        credentials never leave the origin or travel in clear.
      - Credentials (I(url_password), I(bearer_token), a password in the URL and secret-looking I(headers))
        are scrubbed from the response, its headers and every message in every form a server can echo them
        (as given, base64 C(user:password), JSON-escaped, URL-encoded), before anything is cut short.
    type: str
  method:
    description: The HTTP method.
    type: str
    choices: [GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS]
    default: GET
  headers:
    description:
      - Request headers. Values of headers whose names suggest a secret (authorization, token, key) are
        masked in the result.
    type: dict
  body:
    description: The request body, a string, or any data with I(body_format=json).
    type: raw
  body_format:
    description: C(json) encodes I(body) as JSON and sets C(Content-Type) unless given.
    type: str
    choices: [raw, json]
    default: raw
  status_code:
    description: Statuses that count as success, each 100 to 599; any 2xx when not given.
    type: list
    elements: int
  url_username:
    description: User for HTTP basic authentication.
    type: str
  url_password:
    description: Password for HTTP basic authentication. Never returned or logged.
    type: str
    no_log: true
  bearer_token:
    description: Token sent as C(Authorization Bearer). Never returned or logged.
    type: str
    no_log: true
  validate_certs:
    description: Verify the server's TLS certificate.
    type: bool
    default: true
  ca_path:
    description: A PEM file of certificate authorities to trust besides the system ones.
    type: path
  idempotency_check:
    description:
      - A command (C(argv) or C(cmd), C(use_shell), C(chdir)) or an HTTP request (C(url), C(method) GET or
        HEAD, C(status_code) each 100 to 599) that runs before each retry, with its own C(timeout) (seconds,
        default 30, 0.001 to 86400). When it succeeds, the operation's effect is already there (for example the VM exists after a
        timed-out create) and the operation is reported as succeeded without running again.
      - An HTTP check uses the task's authentication and TLS settings.
    type: dict
  max_attempts:
    description: Attempts in all, not retries (3 means at most 2 retries), 1 to 10.
    type: int
    default: 3
  retry_policy:
    description: How the delay grows between attempts.
    type: str
    choices: [exponential_backoff, linear_backoff, fixed_delay]
    default: exponential_backoff
  base_delay:
    description: The first delay, in seconds, 0 to 86400 (one day).
    type: float
    default: 5.0
  max_delay:
    description: The largest delay, in seconds, 0 to 86400 (one day), and at least I(base_delay).
    type: float
    default: 300.0
  backoff_multiplier:
    description: The growth factor of C(exponential_backoff), 1 to 100.
    type: float
    default: 2.0
  jitter_enabled:
    description: Add jitter to the delays (the kind is I(jitter_mode)). Off means exact delays whatever I(jitter_mode) says.
    type: bool
    default: true
  jitter_mode:
    description: The kind of jitter, see the description.
    type: str
    choices: [none, additive, full, equal, decorrelated]
    default: additive
  max_total_time:
    description:
      - An overall deadline in seconds, from the first attempt; 0 means none. Retrying stops when the next
        wait would reach it, and it bounds each attempt.
      - 0 or 0.001 to 86400 (one day); a positive value below a millisecond is refused rather than read as none.
    type: float
    default: 0.0
  attempt_timeout:
    description:
      - Seconds one attempt may run; every process the command started is then killed (SIGKILL), its process
        group and, on Linux, also the processes that left the group (C(setsid), double forks). 0 means none for
        a command; an HTTP operation (I(url)) then gets 30 seconds.
      - 0 or 0.001 to 86400 (one day); a positive value below a millisecond is refused rather than read as none.
    type: float
    default: 0.0
  retry_conditions:
    description: The error types that are retried.
    type: list
    elements: str
    choices: [connection_error, timeout, temporary_failure, network_error, service_unavailable, rate_limit_exceeded,
      resource_busy, authentication_error, authorization_error, permission_error, resource_not_found,
      configuration_error, invalid_parameter, quota_exceeded, unknown_error]
    default: [connection_error, timeout, temporary_failure, network_error, service_unavailable, rate_limit_exceeded,
      resource_busy]
  retry_unknown:
    description: Retry failures that no rule recognises (unknown_error), as C(until) would.
    type: bool
    default: true
  circuit_key:
    description:
      - The key the guardrails' state is kept under; operations with the same key share one circuit breaker,
        bulkhead, retry budget and history. Give the service, such as C(vcenter01.example.com), for every operation
        that calls it. Any text without control characters, at most 512 bytes.
      - Defaults to I(operation).
    type: str
  circuit_breaker:
    description:
      - Stops calling a service that keeps failing. Closed, it counts the failures of a type that is retried; after
        I(failure_threshold) in a row, or when at least I(failure_rate_threshold) of the calls of the last I(window)
        seconds failed (once there are I(minimum_calls)), it opens. Open, every attempt fails at once with error type
        C(circuit_open) without running, and the result's C(retry_in) says when the next trial call is allowed.
        After I(open_duration) seconds up to I(half_open_max_calls) trial calls run; a success closes it, a failure
        opens it again.
      - The state lives in C(<state_dir>/circuit/) and is shared by the processes of the host, so 20 forks calling
        one vCenter share one breaker. Delegate the tasks to one host to share it between hosts.
    type: dict
    suboptions:
      enabled:
        description: Turn the circuit breaker on.
        type: bool
        default: false
      failure_threshold:
        description: Consecutive counted failures that open the breaker, 1 to 1000.
        type: int
        default: 5
      failure_rate_threshold:
        description: The share of failed calls in I(window) that opens the breaker, 0 (off) to 1.
        type: float
        default: 0.5
      minimum_calls:
        description: Calls in I(window) before the failure rate is judged, 1 to 100000.
        type: int
        default: 10
      window:
        description: Seconds of the failure rate's sliding window, 0.001 to 86400 (one day).
        type: float
        default: 60.0
      open_duration:
        description: Seconds an open breaker refuses calls before trial calls run, 0.001 to 86400 (one day).
        type: float
        default: 30.0
      half_open_max_calls:
        description: Trial calls that may run at once while half-open (not a number of successes to collect), 1 to 100.
        type: int
        default: 1
  bulkhead:
    description:
      - Bounds the operations on I(circuit_key) that run at the same time on this host, across processes (across
        hosts with I(store=etcd)). An
        attempt waits up to I(max_wait) seconds for a slot, then fails with C(bulkhead_full). The wait does not count
        against I(max_total_time). A slot is held by the process that runs the attempt, so it applies to C(run) only.
    type: dict
    suboptions:
      enabled:
        description: Turn the bulkhead on.
        type: bool
        default: false
      max_concurrent:
        description: Operations that may run at once, 1 to 256.
        type: int
        default: 10
      max_wait:
        description: Seconds to wait for a slot, 0 to 86400 (one day); 0 does not wait.
        type: float
        default: 60.0
  retry_budget:
    description:
      - Bounds the retries of all the operations on I(circuit_key) to a share of their calls, so that retries do not
        multiply the load on a struggling service. A retry is allowed while the retries of the last I(window) seconds
        are fewer than max(I(min_retries), I(ratio) * calls); otherwise retrying stops with
        C(retry_budget_exhausted), and the result's C(retry_budget) says why.
    type: dict
    suboptions:
      enabled:
        description: Turn the retry budget on.
        type: bool
        default: false
      ratio:
        description: The share of the calls that retries may make up, 0 to 1.
        type: float
        default: 0.1
      min_retries:
        description: Retries per window that are always allowed, 0 to 100000.
        type: int
        default: 10
      window:
        description: Seconds of the budget's sliding window, 0.001 to 86400 (one day).
        type: float
        default: 60.0
  adaptive:
    description:
      - Adapts the retry settings to the recent success rate of the operations on I(circuit_key). Below
        I(target_success_rate) (over at least I(minimum_calls) calls of the last I(window) seconds), base_delay and
        max_delay grow up to I(max_delay_factor) times and max_attempts shrinks down to I(min_attempts), in proportion
        to the shortfall; at or above it the configured settings apply. The result's C(adaptation) says what changed.
    type: dict
    aliases: [adaptive_retry]
    suboptions:
      enabled:
        description: Turn adaptive retry on.
        type: bool
        default: false
      window:
        description: Seconds of the success rate's sliding window, 0.001 to 86400 (one day).
        type: float
        default: 600.0
      minimum_calls:
        description: Calls in I(window) before anything is adapted, 1 to 100000.
        type: int
        default: 10
      target_success_rate:
        description: The success rate (above 0, at most 1) at which the configured settings apply.
        type: float
        default: 0.9
      max_delay_factor:
        description: The largest factor on base_delay and max_delay, at a success rate of 0, 1 to 100.
        type: float
        default: 4.0
      min_attempts:
        description: The fewest attempts max_attempts is lowered to (it is never raised), 1 to 10.
        type: int
        default: 2
  external_systems:
    description:
      - Where C(send_metrics) and C(send_alerts) deliver, usually given in I(settings) as the role's
        C(retry_manager.external_systems). Each entry has C(name) and C(url) (the base URL of a Pushgateway, the
        endpoint of the others), and optionally C(type) (prometheus_remote_write, pushgateway, textfile, slack,
        datadog or webhook; inferred from the name or URL when clear, as for C(hooks.slack.com) or port 9091),
        C(method), C(auth_header) (the Authorization header's value), C(headers), C(timeout) (seconds per attempt,
        default 10), C(retry_count) (retries, default 2), C(retry_delay) (seconds, default 5), C(enabled) (default
        true), C(required) (default false; a failed delivery then fails the task), C(events) (metrics, alerts; by
        default metrics for metric systems, alerts for Slack, both for webhooks), and per type C(job), C(labels),
        C(grouping), C(remote_write_version), C(path), C(directory), C(validate_certs), C(ca_file).
      - The values of C(url) (the path of a Slack or webhook URL is its credential), C(auth_header) and C(headers) are
        masked in the invocation and never appear in results, warnings or logs, in any form a receiver can echo
        them (also base64, JSON-escaped or URL-encoded, and never cut to a prefix); deliveries show the host only.
      - Redirects are never followed (the credentials would go along); a redirect fails the delivery.
    type: list
    elements: dict
  textfile_dir:
    description:
      - A directory read by node_exporter's textfile collector (C(--collector.textfile.directory)). When given and
        I(circuit_breaker) is enabled, action C(run) (not in check mode) writes the breaker state of I(circuit_key)
        there after the operation, atomically, as C(resilience_circuit_breaker_<key>.prom) with mode 0644, in the gauges
        C(resilience_circuit_breaker_state) (labelled C(state=closed|open|half_open), 1 for the current state and 0
        for the others) and C(resilience_circuit_breaker_open_until_timestamp_seconds) (0 when not open), and the
        counter C(resilience_circuit_breaker_opens_total), each labelled C(key=<circuit key>).
      - A failed write is a warning, never a failure of the task.
    type: path
  store:
    description:
      - Where the state of the guardrails (I(circuit_breaker), I(bulkhead), I(retry_budget), I(adaptive)) is kept.
        Sessions are always files in I(state_dir).
      - C(file) (the default) keeps it in C(<state_dir>/circuit/) on the host that runs the module, nothing to set
        up; it protects only the jobs that run there (one AAP execution environment container, one runner).
      - C(etcd) keeps it in an etcd v3 cluster that every execution node, runner and host shares, so a breaker
        opened by one job stops the calls of all, and a bulkhead of 2 admits 2 operations across the fleet. A key's
        state is C(<etcd_prefix>state/circuit/<circuit_key>.json), whatever each host's I(state_dir); the jobs that
        use the same I(etcd_prefix) and I(circuit_key) share it. Every update is a compare-and-swap transaction. A
        bulkhead or half-open trial slot is a key held under a lease that the running attempt keeps alive; the slot
        of a process that dies is free again when its lease runs out (10 seconds).
      - When etcd cannot be reached within I(etcd_timeout), the guardrails say so in the warnings (state store
        unavailable) and let the operation through, as they do with a state file that cannot be read; nothing waits
        longer than I(etcd_timeout) for etcd.
      - The etcd options are the same for every module of the collection. Set them once for all tasks with
        C(module_defaults) and the C(group/resilience.ops.ops) action group.
    type: str
    choices: [file, etcd]
    default: file
attributes:
  check_mode:
    support: full
    description:
      - C(run) runs nothing and returns the planned schedule in C(schedule).
      - The session actions read the session files and return what they would do; no file is written, created or
        removed, and C(wait) does not wait.
      - The guardrails' state is read, never changed; an open circuit breaker says the operation would fail at once.
      - C(send_metrics) and C(send_alerts) send nothing; each delivery's C(would_send) shows what would be sent.
  diff_mode:
    support: none
  platform:
    platforms: [posix, windows]
notes:
  - A server's C(Retry-After) (seconds or an HTTP date) lengthens the next wait up to I(max_delay), never shortens it.
  - C(changed) is true when a command succeeded or an HTTP request other than GET, HEAD and OPTIONS succeeded;
    use C(changed_when) to say otherwise.
  - "The statistics count finished operations only: C(running_operations) counts those still retrying. Rates are
    percentages, derived values are rounded to 2 decimals, times to the millisecond."
  - "With I(action=run), the operation is published as AAP job artifacts (C(ansible_stats) with C(per_host=false),
    which AAP keeps and passes to the next workflow nodes): C(retry_current_operation), C(retry_operation_id),
    C(retry_operation_status) (completed, failed, or planned in check mode), C(retry_attempt_count),
    C(retry_execution_time) (seconds), C(retry_operation_success), C(retry_timestamp) (RFC 3339 UTC) and, when
    the run belongs to a session (I(track_session) or I(session_id)), C(retry_session_id). Each is a number, a
    boolean or a string of at most 256 bytes: never the attempts or the output. With several hosts, the last
    host to finish sets them. Turn them off with I(publish_artifacts=false)."
  - "ansible-core drops the artifacts of a task that ends failed, also with C(ignore_errors). To publish a
    failed operation, keep the task from failing with C(failed_when: false) (or a condition on C(status)), then
    fail in a later task, as the role does; see the examples."
seealso:
  - module: ansible.builtin.command
  - module: ansible.builtin.uri
"""

EXAMPLES = r"""
- name: Create the VM, retrying connection problems with backoff
  resilience.ops.retry_manager:
    operation: vmware_vm_create
    context:
      vm_name: "{{ vm_name }}"
    argv: [govc, vm.create, -on=false, "{{ vm_name }}"]
    max_attempts: 5
    base_delay: 10
    backoff_multiplier: 1.5
    attempt_timeout: 300
    idempotency_check:
      argv: [govc, vm.info, -r, "{{ vm_name }}"]

- name: Call an API that rate-limits, honouring Retry-After
  resilience.ops.retry_manager:
    operation: api_call
    url: https://api.example.com/v1/deployments
    method: POST
    body_format: json
    body: {release: "{{ release }}"}
    bearer_token: "{{ api_token }}"
    status_code: [200, 201]
    retry_conditions: [rate_limit_exceeded, service_unavailable, connection_error, timeout]

- name: Record the outcome of an attempt that ran as tasks, and get the decision
  resilience.ops.retry_manager:
    action: record
    session_id: "{{ session.session_id }}"
    operation: vmware_vm_create
    operation_id: "{{ previous.operation_id | default(omit) }}"
    attempt: 2
    outcome:
      failed: true
      result: "{{ ansible_failed_result }}"
    settings: "{{ retry_manager }}"
  delegate_to: localhost
  register: decision

- name: Finalize the session and check the alert thresholds
  resilience.ops.retry_manager:
    action: finalize
    session_id: "{{ session.session_id }}"
    monitoring:
      alerts: {min_success_rate: 95}
  delegate_to: localhost
  run_once: true

- name: Stop calling a vCenter that keeps failing; other operations on it share the breaker
  resilience.ops.retry_manager:
    operation: vmware_vm_create
    argv: [govc, vm.create, -on=false, "{{ vm_name }}"]
    circuit_key: vcenter01.example.com
    circuit_breaker: {enabled: true, failure_threshold: 5, open_duration: 60}
    bulkhead: {enabled: true, max_concurrent: 4, max_wait: 120}
    retry_budget: {enabled: true, ratio: 0.2}

- name: One breaker and one bulkhead for every AAP execution node, kept in etcd
  module_defaults:
    group/resilience.ops.ops:
      store: etcd
      etcd_endpoints: [https://etcd1.example.com:2379, https://etcd2.example.com:2379, https://etcd3.example.com:2379]
      etcd_prefix: /team-payments/
      etcd_username: provisioner
      etcd_password: "{{ vault_etcd_password }}"
      etcd_ca_file: /etc/pki/etcd/ca.pem
  resilience.ops.retry_manager:
    operation: vmware_vm_create
    argv: [govc, vm.create, -on=false, "{{ vm_name }}"]
    circuit_key: vcenter01.example.com
    circuit_breaker: {enabled: true, failure_threshold: 5, open_duration: 60}
    bulkhead: {enabled: true, max_concurrent: 8, max_wait: 300}

- name: Send the session's metrics to a Pushgateway and a webhook
  resilience.ops.retry_manager:
    action: send_metrics
    session_id: "{{ retry_active_session_id }}"
    external_systems:
      - {name: pushgateway, url: "http://pushgateway.example.com:9091"}
      - {name: audit, type: webhook, url: "{{ audit_webhook_url }}", auth_header: "Bearer {{ audit_token }}", required: true}
  delegate_to: localhost
  run_once: true

- name: See the schedule before a change window
  resilience.ops.retry_manager:
    operation: network_configuration
    cmd: /usr/local/bin/configure-network
    operation_configs:
      network_configuration: {max_attempts: 3, base_delay: 8, max_delay: 240}
  check_mode: true
  register: plan

# The artifacts of a failed task are dropped by ansible-core: keep the task from failing, then fail.
- name: Promote, and publish the operation as AAP artifacts whether it succeeds or not
  resilience.ops.retry_manager:
    operation: promote
    argv: [./promote.sh, "{{ release }}"]
  register: promotion
  failed_when: promotion.status | default('') not in ['completed', 'failed', 'planned']

- name: Fail the job when the promotion failed
  ansible.builtin.fail:
    msg: "{{ promotion.msg }}"
  when: promotion.status == 'failed'
"""

RETURN = r"""
operation_id:
  description: The operation's id, C(<operation>_<unix>_<random>); empty in check mode.
  returned: by run and record
  type: str
  sample: vmware_vm_create_1764000000_123456
operation_name:
  description: The operation's name.
  returned: by run and record
  type: str
session_id:
  description: The retry session.
  returned: by every action but cleanup, compress and wait
  type: str
  sample: retry_1764000000_654321
start_time:
  description: When the first attempt started (RFC 3339, UTC).
  returned: by run and record
  type: str
end_time:
  description: When retrying stopped (RFC 3339, UTC).
  returned: by run and record
  type: str
status:
  description: C(completed), C(failed), C(planned) in check mode, or C(running) when record expects more attempts.
  returned: by run and record
  type: str
attempt_count:
  description: Attempts that ran.
  returned: by run and record
  type: int
max_attempts:
  description: The max_attempts that applied.
  returned: by run and record, and by start when operation is given
  type: int
execution_time:
  description: Seconds from the first attempt to the end.
  returned: by run and record
  type: float
attempts:
  description:
    - One entry per attempt with attempt_number, start_time, end_time, status (success or failed), error_type,
      error_message, should_retry, delay_before_retry (seconds), execution_time (seconds), and evidence with
      I(debug_mode).
  returned: by run and record
  type: list
  elements: dict
stop_reason:
  description:
    - Why retrying stopped. C(rejected) means a guardrail refused an attempt or a retry; C(error_type) says which
      (circuit_open, bulkhead_full, retry_budget_exhausted).
  returned: by run and record
  type: str
  sample: succeeded
  choices: [succeeded, already_done, non_retryable_error, attempts_exhausted, deadline_exceeded, cancelled, rejected]
context:
  description: The I(context) given.
  returned: when given
  type: dict
error_type:
  description:
    - The error type of the last failed attempt; empty when the last attempt succeeded. When a guardrail stopped the
      operation, its reserved type (circuit_open, bulkhead_full, retry_budget_exhausted); the attempts keep their own.
  returned: by run, record and admit
  type: str
  sample: connection_error
policy_sources:
  description: The settings layers that applied, lowest first.
  returned: by run and record
  type: list
  elements: str
  sample: [defaults, task, operation_configs.vmware_vm_create]
rc:
  description: The last attempt's exit status (absent when the idempotency check ended the run).
  returned: when a command ran
  type: int
stdout:
  description: The last attempt's standard output (its last I(max_output) bytes).
  returned: when a command ran
  type: str
stderr:
  description: The last attempt's standard error (its last I(max_output) bytes).
  returned: when a command ran
  type: str
stdout_truncated:
  description: Whether stdout was cut to I(max_output).
  returned: when a command ran and its output was cut
  type: bool
stderr_truncated:
  description: Whether stderr was cut to I(max_output).
  returned: when a command ran and its output was cut
  type: bool
cmd:
  description: The argv that ran.
  returned: when a command ran
  type: list
  elements: str
response:
  description: The last HTTP response, with status, url (without credentials), headers, body and json (when JSON).
  returned: when an HTTP request was made
  type: dict
session_file:
  description: The session's head file (its operations are in the directory beside it, C(retry_session_<id>.d)).
  returned: by the session actions, and by run with track_session
  type: str
host:
  description: The host the operation ran for (recording this result with C(operation_result) names the same host).
  returned: by run and record, when given
  type: str
should_retry:
  description: Whether the attempt recorded is retried.
  returned: by record
  type: bool
delay:
  description: The wait before the next attempt, in seconds (jitter included); 0 when none follows.
  returned: by record
  type: float
next_attempt:
  description: The number of the next attempt; 0 when none follows.
  returned: by record
  type: int
session_start:
  description: When the session was created (RFC 3339, UTC).
  returned: by start and finalize
  type: str
session_status:
  description: C(active), C(completed) or C(failed).
  returned: by start and finalize
  type: str
created:
  description: Whether start created the session (false when it joined one).
  returned: by start
  type: bool
operation_count:
  description:
    - The operations that the session's last C(finalize) counted (finished and running); 0 before its first. Joining
      a session does not read its operations, so that it costs the same whatever the session holds.
  returned: by start
  type: int
call_stack_session_id:
  description: The call_stack_session_id kept for correlation.
  returned: by start and finalize, when a context had one
  type: str
policy:
  description: The operation's resolved retry settings, in the units of the parameters.
  returned: by start, when operation is given
  type: dict
session_end:
  description: When the session was finalized (RFC 3339, UTC).
  returned: by finalize
  type: str
session_duration:
  description: Seconds from session_start to session_end.
  returned: by finalize
  type: float
final_statistics:
  description:
    - total_operations, successful_operations, failed_operations, running_operations, retried_operations,
      total_retry_attempts, average_retry_count, max_retry_count, total_execution_time, average_execution_time,
      success_rate, failure_rate, retry_rate (percent) and operations_per_minute.
  returned: by finalize
  type: dict
  sample: {total_operations: 5, successful_operations: 4, failed_operations: 1, running_operations: 0,
    retried_operations: 2, total_retry_attempts: 3, average_retry_count: 0.6, max_retry_count: 2,
    total_execution_time: 330, average_execution_time: 66, success_rate: 80.0, failure_rate: 20.0,
    retry_rate: 40.0, operations_per_minute: 0.91}
alerts:
  description: Each breached threshold with alert, metric, value, threshold and message.
  returned: by finalize, send_metrics and send_alerts
  type: list
  elements: dict
performance_file:
  description:
    - The performance metrics file (statistics, error distribution, per-operation metrics for the first 1000
      operation names, the rest summed under C(_other)).
  returned: by finalize
  type: str
error_log_file:
  description:
    - The error log, composed by finalize from the failures recorded; the oldest 1000 entries, with C(error_count)
      counting them all.
  returned: by finalize
  type: str
hosts:
  description: The distinct hosts with operations in the session.
  returned: by finalize
  type: int
failure_count:
  description: The failures recorded in the session (entries of the error log).
  returned: by finalize
  type: int
failures:
  description:
    - The oldest failures, at most 10, each with timestamp, operation_id, operation_name, host, error_type,
      error_message, stop_reason, attempt_count and failed_task, texts cut to 256 bytes. Bounded whatever the
      session holds, for the AAP artifacts.
  returned: by finalize
  type: list
  elements: dict
recorded:
  description: The operations that record with I(operation_results) wrote.
  returned: by record with operation_results
  type: int
unchanged:
  description: The operations that record with I(operation_results) found already recorded as they are.
  returned: by record with operation_results
  type: int
not_recorded:
  description:
    - The entries of I(operation_results) that are not finished runs, at most 10 (with C(index) and C(reason)),
      and C(not_recorded_count) counts them all.
  returned: by record with operation_results
  type: list
  elements: dict
not_recorded_count:
  description: The entries of I(operation_results) that were not recorded.
  returned: by record with operation_results
  type: int
removed:
  description: The files removed (in check mode, that would be).
  returned: by cleanup
  type: list
  elements: str
compressed:
  description: The files compressed, with file, size_before and size_after.
  returned: by compress
  type: list
  elements: dict
waited:
  description: Seconds waited.
  returned: by wait
  type: float
circuit_key:
  description: The key of the guardrails' state.
  returned: by run, record and admit when a guardrail is enabled, by start when one is enabled for operation
  type: str
  sample: vcenter01.example.com
circuit_breaker:
  description:
    - "The circuit breaker: enabled, state (closed, open, half_open) after the operation, admitted_state (the state
      the last attempt was admitted in), trial, consecutive_failures, window_calls, window_failures, failure_rate,
      open_until and next_trial_in (seconds) while open, opens, and the transitions the operation made (from, to,
      at, reason). Only C({enabled: false}) when it is off."
  returned: by run, record and admit when a guardrail is enabled
  type: dict
  sample: {enabled: true, state: open, admitted_state: closed, consecutive_failures: 0, opens: 1, next_trial_in: 29.8,
    transitions: [{from: closed, to: open, at: "2026-01-02T03:04:05Z",
      reason: "5 consecutive failures (failure_threshold 5), the last connection_error"}]}
bulkhead:
  description:
    - "The bulkhead: enabled, max_concurrent, max_wait, acquired, slot, waited (seconds, the last attempt),
      total_waited (all attempts), available (free slots, in check mode) and not_applied (why it did not apply, for
      admit). Only C({enabled: false}) when it is off."
  returned: by run, record and admit when a guardrail is enabled
  type: dict
retry_budget:
  description:
    - "The retry budget's last decision: enabled, allowed, retries and calls of the window, budget, denied, window
      (seconds) and reason. Only C({enabled: false}) when it is off."
  returned: by run, record and admit when a guardrail is enabled
  type: dict
adaptation:
  description:
    - "What adaptive retry did: enabled, adapted, success_rate, calls, window, delay_factor, reason and changes
      (param, from, to). Only C({enabled: false}) when it is off."
  returned: by run, record and admit when a guardrail is enabled
  type: dict
retry_in:
  description: Seconds until the open circuit breaker lets the next trial call through.
  returned: when the circuit breaker refused an attempt
  type: float
admission:
  description: Whether the operation's circuit breaker is enabled, so that the role asks C(admit) before each attempt.
  returned: by start
  type: bool
admitted:
  description: Whether the attempt may run. When false the operation ended with circuit_open and the result is its record.
  returned: by admit
  type: bool
event:
  description: What was delivered, C(metrics) or C(alerts).
  returned: by send_metrics and send_alerts
  type: str
alert_key:
  description: The breach group of the alert; the same for every host of the session and set of breached thresholds.
  returned: by send_alerts when a threshold is breached
  type: str
deliveries:
  description:
    - One entry per external system with name, type, host (never the URL), event, sent, skipped (disabled,
      not_subscribed, no_breach, already_sent, check_mode), required, attempts, stop_reason, error and error_type
      when it failed, status_code, protocol, series, note, and would_send (method, host, groups, series, text or
      body) in check mode.
  returned: by send_metrics and send_alerts
  type: list
  elements: dict
  sample: [{name: pushgateway, type: pushgateway, host: "pushgateway.example.com:9091", event: metrics, sent: true,
    required: false, attempts: 1, stop_reason: succeeded, status_code: 200, series: 14}]
schedule:
  description:
    - The plan, in check mode. attempts lists attempt_number, delay and worst_case_delay (jitter at its upper
      bound) in seconds; worst_case_wait sums the delays; worst_case_total adds the attempt timeouts (capped by
      max_total_time) when bounded.
  returned: in check mode
  type: dict
"""
