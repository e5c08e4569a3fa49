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
  - Per-operation settings in I(operation_configs) override the task's settings, which override the
    defaults.
  - In check mode nothing runs; the result gives the planned schedule, each attempt's delay and the
    worst-case total time.
  - The result is the operation record that retry reports consume, with each attempt, and why retrying
    stopped (C(stop_reason)).
  - The same program is the command-line tool C(retry_backoff <max_attempts> <base_seconds> -- command).
author:
  - resilience.ops contributors
options:
  operation:
    description: The operation's name, recorded in the result and used to pick I(operation_configs).
    type: str
    required: true
    aliases: [retry_current_operation]
  context:
    description: Context recorded with the operation (for example the VM name), returned as is.
    type: dict
    aliases: [retry_component_context]
  session_id:
    description: The retry session to record the operation in; a new C(retry_<unix>_<random>) id when not given.
    type: str
  operation_configs:
    description:
      - Settings per operation name, each a dictionary of any of max_attempts, retry_policy, base_delay,
        max_delay, backoff_multiplier, jitter_enabled, jitter_mode, max_total_time, attempt_timeout,
        retry_conditions and retry_unknown. The entry for I(operation) wins over the task's settings.
    type: dict
  error_rules:
    description:
      - Ordered classification rules that win over the built-in ones. Each has C(error_type) and at least
        one of C(pattern) (a regular expression, case-insensitive, matched against C(field), one of any, message,
        error, stderr or stdout), C(exit_code) and C(http_status); all given conditions must match.
    type: list
    elements: dict
  debug_mode:
    description: Add to each attempt the evidence of its classification (which rule matched which text).
    type: bool
    default: false
  argv:
    description: The command to run, as a list; no shell is involved. Exclusive with I(cmd) and I(url).
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
    description: The directory to run the command in.
    type: path
  environment:
    description: Variables added to the command's environment.
    type: dict
  stdin:
    description: Text given to the command on its standard input.
    type: str
  max_output:
    description: Bytes kept of stdout and of stderr (the last ones); the rest is dropped and flagged.
    type: int
    default: 65536
  url:
    description: The URL of an HTTP request to make. Exclusive with I(argv) and I(cmd).
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
    description: Statuses that count as success; any 2xx when not given.
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
        HEAD, C(status_code)) that runs before each retry, with its own C(timeout) (seconds, default 30).
        When it succeeds, the operation's effect is already there (for example the VM exists after a
        timed-out create) and the operation is reported as succeeded without running again.
      - An HTTP check uses the task's authentication and TLS settings.
    type: dict
  max_attempts:
    description: Attempts in all, not retries (3 means at most 2 retries).
    type: int
    default: 3
  retry_policy:
    description: How the delay grows between attempts.
    type: str
    choices: [exponential_backoff, linear_backoff, fixed_delay]
    default: exponential_backoff
  base_delay:
    description: The first delay, in seconds.
    type: float
    default: 5.0
  max_delay:
    description: The largest delay, in seconds; at least I(base_delay).
    type: float
    default: 300.0
  backoff_multiplier:
    description: The growth factor of C(exponential_backoff); at least 1.
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
    type: float
    default: 0.0
  attempt_timeout:
    description: Seconds one attempt may run; a command's whole process group is then killed. 0 means none.
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
attributes:
  check_mode:
    support: full
    description: Runs nothing and returns the planned schedule in C(schedule).
  diff_mode:
    support: none
  platform:
    platforms: [posix, windows]
notes:
  - A server's C(Retry-After) (seconds or an HTTP date) lengthens the next wait up to I(max_delay), never shortens it.
  - C(changed) is true when a command succeeded or an HTTP request other than GET, HEAD and OPTIONS succeeded;
    use C(changed_when) to say otherwise.
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

- name: See the schedule before a change window
  resilience.ops.retry_manager:
    operation: network_configuration
    cmd: /usr/local/bin/configure-network
    operation_configs:
      network_configuration: {max_attempts: 3, base_delay: 8, max_delay: 240}
  check_mode: true
  register: plan
"""

RETURN = r"""
operation_id:
  description: The operation's id, C(<operation>_<unix>_<random>); empty in check mode.
  returned: always
  type: str
  sample: vmware_vm_create_1764000000_123456
operation_name:
  description: The operation's name.
  returned: always
  type: str
session_id:
  description: The retry session of the operation.
  returned: always
  type: str
  sample: retry_1764000000_654321
start_time:
  description: When the first attempt started (RFC 3339, UTC).
  returned: always
  type: str
end_time:
  description: When retrying stopped (RFC 3339, UTC).
  returned: always
  type: str
status:
  description: C(completed), C(failed), or C(planned) in check mode.
  returned: always
  type: str
attempt_count:
  description: Attempts that ran.
  returned: always
  type: int
max_attempts:
  description: The max_attempts that applied.
  returned: always
  type: int
execution_time:
  description: Seconds from the first attempt to the end.
  returned: always
  type: float
attempts:
  description:
    - One entry per attempt with attempt_number, start_time, end_time, status (success or failed), error_type,
      error_message, should_retry, delay_before_retry (seconds), execution_time (seconds), and evidence with
      I(debug_mode).
  returned: always
  type: list
  elements: dict
stop_reason:
  description: Why retrying stopped.
  returned: always
  type: str
  sample: succeeded
  choices: [succeeded, already_done, non_retryable_error, attempts_exhausted, deadline_exceeded, cancelled]
context:
  description: The I(context) given.
  returned: when given
  type: dict
error_type:
  description: The error type of the last failed attempt; empty when the last attempt succeeded.
  returned: always
  type: str
  sample: connection_error
policy_sources:
  description: The settings layers that applied, lowest first.
  returned: always
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
schedule:
  description:
    - The plan, in check mode. attempts lists attempt_number, delay and worst_case_delay (jitter at its upper
      bound) in seconds; worst_case_wait sums the delays; worst_case_total adds the attempt timeouts (capped by
      max_total_time) when bounded.
  returned: in check mode
  type: dict
"""
