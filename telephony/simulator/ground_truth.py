"""What really happened, recorded by the simulator for tests to compare with our database."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

# A caller's outcome is the most significant thing that happened on the call.
CALLER_OUTCOMES = (
    "answered",
    "voicemail",
    "callback-requested",
    "failed",
    "queue-full",
    "abandoned",
    "menu-hangup",
    "completed",
)


@dataclass
class CallRecord:
    call_sid: str
    role: str  # caller | agent | customer
    direction: str
    from_: str
    to: str
    parent_call_sid: str | None = None
    status: str | None = None
    outcome: str | None = None
    # Who hung up first: caller | agent | customer (the party), api (REST), twiml (<Hangup> or the
    # end of the TwiML), twilio (a dropped <Dial> leg); None when the leg was never answered.
    ended_by: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    happenings: set[str] = field(default_factory=set)
    menu_digits: list[str] = field(default_factory=list)
    queue_results: list[str] = field(default_factory=list)
    dial_statuses: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    queue_seconds: float = 0.0
    first_enqueued_at: datetime | None = None
    left_queue_at: datetime | None = None
    connected_at: datetime | None = None
    agent_identity: str | None = None
    recording_sid: str | None = None
    recording_seconds: int | None = None

    def note(self, happening: str) -> None:
        self.happenings.add(happening)

    def close(self, status: str, ended_at: datetime) -> None:
        self.status, self.ended_at = status, ended_at
        self.outcome = self._outcome()

    def _outcome(self) -> str:
        if self.role != "caller":
            return "answered" if "answered" in self.happenings else (self.status or "failed")
        if self.status == "failed":
            return "failed"
        return next((o for o in CALLER_OUTCOMES if o in self.happenings), "completed")

    @property
    def wait_seconds(self) -> float | None:
        """From the first <Enqueue> until an agent connected, the caller gave up waiting, or
        (say, for voicemail) the caller last left a queue."""
        if self.first_enqueued_at is None:
            return None
        if self.connected_at is not None:
            until = self.connected_at
        elif "abandoned" in self.happenings:
            until = self.ended_at
        else:
            until = self.left_queue_at or self.ended_at
        return None if until is None else max(0.0, (until - self.first_enqueued_at).total_seconds())

    @property
    def talk_seconds(self) -> float:
        if self.connected_at is None or self.ended_at is None:
            return 0.0
        return max(0.0, (self.ended_at - self.connected_at).total_seconds())

    def as_dict(self) -> dict:
        return {
            "call_sid": self.call_sid,
            "role": self.role,
            "direction": self.direction,
            "from": self.from_,
            "to": self.to,
            "parent_call_sid": self.parent_call_sid,
            "status": self.status,
            "outcome": self.outcome,
            "ended_by": self.ended_by,
            "happenings": sorted(self.happenings),
            "menu_digits": list(self.menu_digits),
            "queue_results": list(self.queue_results),
            "dial_statuses": list(self.dial_statuses),
            "queue_seconds": round(self.queue_seconds, 1),
            "wait_seconds": None if self.wait_seconds is None else round(self.wait_seconds, 1),
            "agent_identity": self.agent_identity,
            "talk_seconds": round(self.talk_seconds, 1),
            "recording_sid": self.recording_sid,
            "recording_seconds": self.recording_seconds,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "errors": list(self.errors),
        }


@dataclass
class WebhookRecord:
    kind: str  # twiml | status | conference | recording | hold-music | announcement
    method: str
    url: str
    call_sid: str | None
    status: int | None  # None: no HTTP answer (connect or read failure)
    attempt: int
    failure: str | None
    at: datetime
    params: dict[str, str]

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "method": self.method,
            "url": self.url,
            "call_sid": self.call_sid,
            "status": self.status,
            "attempt": self.attempt,
            "failure": self.failure,
            "at": self.at.isoformat(),
            "params": dict(self.params),
        }


class GroundTruth:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.calls: dict[str, CallRecord] = {}
        self.webhooks: list[WebhookRecord] = []
        self.errors: list[dict[str, str | None]] = []
        self.rest_faults: list[dict[str, str]] = []

    def add_call(self, record: CallRecord) -> CallRecord:
        self.calls[record.call_sid] = record
        return record

    def add_webhook(self, record: WebhookRecord) -> None:
        self.webhooks.append(record)

    def add_error(self, call_sid: str | None, message: str) -> None:
        self.errors.append({"call_sid": call_sid, "message": message})
        if call_sid in self.calls:
            self.calls[call_sid].errors.append(message)

    def as_dict(self, call_sids: list[str] | None = None) -> dict:
        chosen = [self.calls[s] for s in call_sids] if call_sids else list(self.calls.values())
        callers = [r for r in chosen if r.role == "caller"]
        non_2xx = [w for w in self.webhooks if w.status is None or not 200 <= w.status < 300]
        return {
            "seed": self.seed,
            "outcomes": dict(Counter(r.outcome or "in-progress" for r in callers)),
            "calls": [r.as_dict() for r in chosen],
            "webhook_count": len(self.webhooks),
            "non_2xx_count": len(non_2xx),
            "server_error_count": sum(1 for w in non_2xx if w.status and w.status >= 500),
            "non_2xx": [w.as_dict() for w in non_2xx],
            "webhooks": [w.as_dict() for w in self.webhooks],
            "errors": list(self.errors),
            "rest_faults": list(self.rest_faults),
        }

    def write_json(self, path: str | Path, call_sids: list[str] | None = None) -> None:
        Path(path).write_text(json.dumps(self.as_dict(call_sids), indent=2))
