"""Logs are structured and never carry a caller's phone number."""

import json
import logging

import structlog

from callcenter.logconfig import PHONE_KEYS, logging_config, mask_phone_numbers


def render(fmt: str, emit) -> str:
    config = logging_config(level="INFO", fmt=fmt)
    formatter = config["formatters"]["structured"]
    factory = formatter.pop("()")
    handler_formatter = factory(**formatter)
    records: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record):
            records.append(handler_formatter.format(record))

    logger = logging.getLogger("switchboard.test")
    handler = Capture()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return "\n".join(records)


def test_stdlib_messages_and_arguments_are_masked():
    out = render(
        "json", lambda log: log.info("call from %s to %s", "+14155550123", "+1 (415) 555-0199")
    )
    assert "4155550123" not in out and "555-0199" not in out
    assert json.loads(out)["event"] == "call from [phone] to [phone]"


def test_structlog_keys_carrying_numbers_are_dropped():
    def emit(_):
        structlog.get_logger("switchboard.test").info(
            "webhook",
            From="+442071838750",
            payload={"Caller": "+33123456789", "CallSid": "CA0123456789abcdef"},
        )

    out = render("json", emit)
    assert "2071838750" not in out and "123456789" not in out.replace("CA0123456789abcdef", "")
    event = json.loads(out)
    assert event["From"] == "[phone]" and event["payload"]["Caller"] == "[phone]"
    assert event["payload"]["CallSid"] == "CA0123456789abcdef"  # SIDs are not numbers


def test_exceptions_are_masked_too():
    def emit(log):
        try:
            raise ValueError("no agent for +14155550123")
        except ValueError:
            log.exception("routing failed")

    out = render("console", emit)
    assert "4155550123" not in out and "routing failed" in out


def test_mask_leaves_ordinary_numbers_alone():
    assert mask_phone_numbers("queue 12 waited 340 s, call 2026-11-23") == (
        "queue 12 waited 340 s, call 2026-11-23"
    )
    assert {"from", "to", "caller", "called"} <= PHONE_KEYS
