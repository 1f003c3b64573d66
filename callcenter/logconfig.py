"""Structured logging (structlog over the standard library) that never prints phone numbers.

Every record, ours or a library's, passes through `redact_phone_numbers` before it is rendered:
values under phone-bearing keys are dropped and anything shaped like a phone number in any
string is masked. Callers' numbers are personal data (DESIGN.md §6).
"""

import re
from typing import Any

import structlog

PHONE_KEYS = frozenset(
    {
        "from",
        "to",
        "caller",
        "called",
        "from_number",
        "to_number",
        "phone",
        "phone_number",
        "e164",
        "forwardedfrom",
        "callerid",
    }
)
# "+14155550100", "+1 (415) 555-0100", or a bare run of 8-15 digits not inside a word
# (Twilio SIDs are letters and hex, so they keep their digits).
PHONE_PATTERN = re.compile(r"\+\d[\d\s().-]{5,}\d|(?<![\w.])\d{8,15}(?![\w.])")
MASK = "[phone]"


def mask_phone_numbers(text: str) -> str:
    return PHONE_PATTERN.sub(MASK, text)


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return mask_phone_numbers(value)
    if isinstance(value, dict):
        return {k: MASK if str(k).lower() in PHONE_KEYS else _redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact(v) for v in value)
    return value


def redact_phone_numbers(_logger, _method, event_dict: dict) -> dict:
    """structlog processor: mask phone numbers anywhere in the event."""
    return _redact(event_dict)


SHARED_PROCESSORS = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def logging_config(*, level: str, fmt: str) -> dict:
    """A dictConfig for Django's LOGGING; `fmt` is "json" (services) or "console" (embedded)."""
    renderer = (
        structlog.dev.ConsoleRenderer(colors=False)
        if fmt == "console"
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            *SHARED_PROCESSORS,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "foreign_pre_chain": SHARED_PROCESSORS,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    redact_phone_numbers,
                    renderer,
                ],
            }
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "INFO"},
            "celery": {"level": level},
            # One line per finished task (every few seconds for the sweep) is noise.
            "celery.app.trace": {"level": "WARNING"},
            # The SDK logs every request's headers over a dozen lines; failures are ours to log.
            "twilio.http_client": {"level": "WARNING"},
        },
    }
