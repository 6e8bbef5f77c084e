"""The server's JSON log lines (satlearn.serve._metrics.JsonFormatter)."""

from __future__ import annotations

import json
import logging
import time

from satlearn.serve import JsonFormatter
from satlearn.serve._metrics import request_id


def _record(message: str, created: float, **extra) -> logging.LogRecord:
    record = logging.makeLogRecord({"name": "satlearn.serve.access", "levelname": "INFO"})
    record.msg, record.args, record.created = message, (), created
    record.__dict__.update(extra)
    return record


def test_a_line_is_one_json_object_with_time_level_message_request_id_and_extras():
    token = request_id.set("req-7")
    try:
        line = JsonFormatter().format(_record("POST /x 200", 0.0, status=200, model="seg"))
    finally:
        request_id.reset(token)
    doc = json.loads(line)
    assert doc["time"] == time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(0.0))
    assert (doc["level"], doc["logger"], doc["message"]) == (
        "info",
        "satlearn.serve.access",
        "POST /x 200",
    )
    assert (doc["request_id"], doc["status"], doc["model"]) == ("req-7", 200, "seg")
    assert "msg" not in doc and "args" not in doc  # the record's own fields stay out


def test_the_time_follows_each_record_and_odd_values_still_make_json():
    formatter = JsonFormatter()
    first, later = (json.loads(formatter.format(_record("a", t)))["time"] for t in (100.2, 3700.9))
    assert first == time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(100.2))
    assert later == time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(3700.9))
    # An integer past 64 bits and a non-string key: orjson refuses, the json module writes.
    doc = json.loads(formatter.format(_record("b", 0.0, big=2**70, table={1: "x"})))
    assert doc["big"] == 2**70 and doc["table"] == {"1": "x"}
