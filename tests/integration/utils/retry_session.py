"""Read a retry session the way its documented layout says, as a user's script would.

retry_session_<id>.json is the head (the session without its operations); the operations are
JSON lines in retry_session_<id>.d/<host key>.<n>.jsonl (or .jsonl.gz once compressed): one
operation record a line, the last line of an operation id in a host's segments being its current
version, and {"error_entry": {...}} lines for the error log. A last line without a newline is
being written (or was torn by a killed writer) and is not a record; neither is a line that does
not parse. A session written by an earlier version holds its operations in the head file itself.

    load(state_dir, session_id) -> the session with its "operations", as Store.Load composes it
    only(state_dir) -> the one session of the directory
"""
import glob
import gzip
import json
import os
import re

_SEGMENT = re.compile(r"^(?P<key>.+)\.(?P<n>0|[1-9][0-9]{0,8})\.jsonl(?P<gz>\.gz)?$")


def _read(path):
    if os.path.exists(path):
        with open(path, "rb") as f:
            return f.read()
    with gzip.open(path + ".gz", "rb") as f:
        return f.read()


def _lines(data):
    # Only complete lines: the last one without a newline is not a record yet.
    return data.split(b"\n")[:-1]


def load(state_dir, session_id):
    head_path = os.path.join(state_dir, "retry_session_%s.json" % session_id)
    session = json.loads(_read(head_path))
    if session.get("format_version", 1) < 2:
        session.setdefault("operations", [])
        return session
    parts = os.path.join(state_dir, "retry_session_%s.d" % session_id)
    segments = {}
    for name in os.listdir(parts) if os.path.isdir(parts) else []:
        m = _SEGMENT.match(name)
        if m:
            segments.setdefault(m.group("key"), set()).add(int(m.group("n")))
    operations, errors = [], []
    for key in sorted(segments):
        records = []
        for n in sorted(segments[key]):
            for line in _lines(_read(os.path.join(parts, "%s.%d.jsonl" % (key, n)))):
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue  # torn by a killed writer: not a record
        last = {r["operation_id"]: i for i, r in enumerate(records) if "operation_id" in r}
        for i, r in enumerate(records):
            if "error_entry" in r:
                errors.append(r["error_entry"])
            elif last.get(r.get("operation_id")) == i:
                operations.append(r)
    session["operations"] = operations
    session["error_entries"] = errors
    return session


def only(state_dir):
    heads = glob.glob(os.path.join(state_dir, "retry_session_retry_*.json"))
    assert len(heads) == 1, ("one session", heads)
    session_id = os.path.basename(heads[0])[len("retry_session_"):-len(".json")]
    return load(state_dir, session_id)
