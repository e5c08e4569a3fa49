# -*- coding: utf-8 -*-
# Copyright: resilience.ops contributors
# MIT License (see LICENSE)

# The etcd options of the modules that take store=etcd (extends_documentation_fragment:
# resilience.ops.etcd). Each module documents its own store option; these are shared word for word.
# internal/modtest merges this fragment when it checks a module's documentation against its Go spec.

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  etcd_endpoints:
    description:
      - The client URLs of the etcd members (C(http://10.0.0.1:2379)), or C(host:port) (C(https) when a TLS
        file is given). Members are tried in turn until one answers. Required with I(store=etcd).
      - Credentials in a URL are refused; use I(etcd_username) and I(etcd_password).
      - A member that answers with a redirect is not followed (the password and the token go only to these
        endpoints); the operation fails and a guard counts as locked.
    type: list
    elements: str
  etcd_prefix:
    description:
      - Every key is kept under this prefix, so several teams can share one cluster (give each team its
        own prefix and, with authentication, a role limited to it). A trailing C(/) is added when missing.
    type: str
    default: /resilience.ops/
  etcd_username:
    description: The etcd user, when etcd has authentication enabled.
    type: str
  etcd_password:
    description: The password of I(etcd_username). Never logged or returned.
    type: str
    no_log: true
  etcd_ca_file:
    description: A PEM file of the certificate authority that signed the members' certificates (the system's when not given).
    type: path
  etcd_cert_file:
    description: The client certificate (PEM), for members that require one. Goes with I(etcd_key_file).
    type: path
  etcd_key_file:
    description: The key of I(etcd_cert_file) (PEM).
    type: path
  etcd_timeout:
    description:
      - The bound on every etcd operation, retries on other members and conflicting writes included
        (seconds, or a duration such as C(500ms); 100ms to 5m). Nothing waits longer for etcd.
    type: str
    default: 5s
"""
