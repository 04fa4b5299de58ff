"""Structured JSON logs that never carry secrets."""

from __future__ import annotations

import json
import logging

from hub.logs import JsonFormatter


def test_log_lines_are_json_with_extra_fields_and_redacted_secrets() -> None:
    record = logging.makeLogRecord(
        {"name": "hub.test", "levelno": logging.INFO, "levelname": "INFO", "msg": "sent %s", "args": ("ok",)}
    )
    record.message_id = 42
    record.api_token = "hub_should-not-appear"
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["msg"] == "sent ok"
    assert entry["message_id"] == 42
    assert entry["api_token"] == "***"
    assert "should-not-appear" not in line
