"""Offering a waiting call, voicemail or callback to an agent: the one write path of an offer.

Routing makes an offer in one statement (routing.claim): it picks the pair, then these
data-modifying CTEs write the core domain's side of it from the relation `offer` the claim
defines (one row: reservation_id, kind, item_id, call_id, agent_id, offered_at, ring_timeout,
from_status, from_activity, call_sid, softphone_identity, preferred_agent_id,
preferred_agent_until). On SQLite, the embedded run's database, the same statements run one
after the other (routing.claim_embedded):

- the agent: one more active call (the CHECK refuses more than capacity), activity offered,
  last offered now (round robin), with its AgentStatusEvent;
- the caller's stage offered, with the known agent routing resolved (Call.preferred_agent);
  or the voicemail / callback request offered to the agent;
- the ring of the agent's softphone, recorded as a telephony Operation (its key is the
  reservation's, so it never reaches Twilio twice) and requested after commit (offer_made).
"""

from django.db import transaction

from callcenter import notifications
from callcenter.choices import AgentActivity, CallStage, StatusEventSource, WorkStatus
from callcenter.models import Agent, Call, CallbackRequest, Voicemail
from callcenter.rows import from_db
from telephony.models import OperationKind, OperationStatus

OFFER_REASON = "offered a call"


def _columns(model, *names: str) -> tuple[str, ...]:
    """`names` in the model's field order, as Model.from_db reads them."""
    return tuple(f.attname for f in model._meta.concrete_fields if f.attname in names)


AGENT_COLUMNS = _columns(
    Agent, "id", "user_id", "softphone_identity", "status", "away_reason", "status_changed_at",
    "activity", "activity_changed_at", "active_calls", "calls_answered_today", "wrap_up_until",
)  # fmt: skip
CALL_COLUMNS = _columns(
    Call, "id", "call_sid", "parent_id", "direction", "from_number", "status", "stage",
    "outcome", "queue_id", "agent_id", "priority", "enqueued_at", "answered_at", "ended_at",
    "held_since", "recording_since",  # with the rest: what the call's frame shows
)  # fmt: skip
# What an offer's frame shows of the work (routing.notifications).
VOICEMAIL_COLUMNS = _columns(Voicemail, "id", "recording_url", "duration_seconds")
CALLBACK_COLUMNS = _columns(CallbackRequest, "id", "number", "attempts")


def _returning(alias: str, columns: tuple[str, ...]) -> str:
    return ", ".join(f"{alias}.{column}" for column in columns)


# A routable agent is idle or on a call: an offer always changes the activity, so it always
# has its audit row.
_AGENT = f"""
    UPDATE callcenter_agent AS a
    SET active_calls = a.active_calls + 1, activity = '{AgentActivity.OFFERED}',
        activity_changed_at = o.offered_at, last_offered_at = o.offered_at, wrap_up_until = NULL
    FROM offer o WHERE a.id = o.agent_id"""  # noqa: S608 - model table, choices
_AGENT_EVENT = f"""
    INSERT INTO callcenter_agentstatusevent (agent_id, from_status, from_activity, to_status,
        to_activity, reason, source, acting_user_id, occurred_at)
    SELECT o.agent_id, o.from_status, o.from_activity, o.from_status, '{AgentActivity.OFFERED}',
        '{OFFER_REASON}', '{StatusEventSource.SYSTEM}', NULL, o.offered_at
    FROM offer o"""  # noqa: S608 - model table, choices
_CALL = f"""
    UPDATE callcenter_call AS c
    SET stage = '{CallStage.OFFERED}', preferred_agent_id = o.preferred_agent_id,
        preferred_agent_until = o.preferred_agent_until
    FROM offer o WHERE c.id = o.call_id AND o.kind = 'call'"""  # noqa: S608 - model table, choices
_VOICEMAIL = f"""
    UPDATE callcenter_voicemail AS w SET status = '{WorkStatus.OFFERED}', agent_id = o.agent_id
    FROM offer o WHERE w.id = o.item_id AND o.kind = 'voicemail'"""  # noqa: S608 - as above
_CALLBACK = f"""
    UPDATE callcenter_callbackrequest AS w
    SET status = '{WorkStatus.OFFERED}', agent_id = o.agent_id
    FROM offer o WHERE w.id = o.item_id AND o.kind = 'callback'"""  # noqa: S608 - as above
# A callback rings the agent first, on a leg that holds for the customer (role callback).
_RING = f"""
    INSERT INTO telephony_operation (key, kind, call_sid, params, status, attempts, result_sid,
        error, created_at, updated_at)
    SELECT '{OperationKind.DIAL_AGENT}:' || o.call_sid || ':reservation:' || o.reservation_id,
        '{OperationKind.DIAL_AGENT}', o.call_sid,
        %(json_object)s('customer_call_sid', o.call_sid, 'identity', o.softphone_identity,
            'ring_timeout', o.ring_timeout,
            'role', CASE o.kind WHEN 'callback' THEN 'callback' ELSE 'agent' END),
        '{OperationStatus.PENDING}', 0, '', '', o.offered_at, o.offered_at
    FROM offer o WHERE o.kind IN ('call', 'callback')
    ON CONFLICT (key) DO NOTHING"""  # noqa: S608 - model table, choices
# One step per write: (name, statement over the one-row relation `offer`, the alias of the
# table it writes, the columns it returns). PostgreSQL runs them as data-modifying CTEs of the
# claim (OFFER_WRITES); SQLite, which has none, one after the other (offer_statements).
_STEPS = (
    ("offered_agent", _AGENT, "a", AGENT_COLUMNS),
    ("offered_agent_event", _AGENT_EVENT, "", ()),
    ("offered_call", _CALL, "c", CALL_COLUMNS),
    ("offered_voicemail", _VOICEMAIL, "w", VOICEMAIL_COLUMNS),
    ("offered_callback", _CALLBACK, "w", CALLBACK_COLUMNS),
    ("offered_ring", _RING, "telephony_operation", ("id",)),
)
OFFER_WRITES = ",".join(
    f"\n{name} AS ({body % {'json_object': 'jsonb_build_object'}}"
    + (f"\n    RETURNING {_returning(alias, columns)}" if columns else "")
    + ")"
    for name, body, alias, columns in _STEPS
)
# The relation `offer` has these columns, in this order (offer_statements' parameters).
OFFER_COLUMNS = (
    "reservation_id", "kind", "item_id", "call_id", "agent_id", "offered_at", "ring_timeout",
    "from_status", "from_activity", "call_sid", "softphone_identity", "preferred_agent_id",
    "preferred_agent_until",
)  # fmt: skip


def offer_statements() -> list[tuple[str, int]]:
    """The steps as SQLite statements, each over `offer` given as parameters (OFFER_COLUMNS),
    with how many columns it returns (unqualified: SQLite's RETURNING names the written table
    only). Their rows in order, or NULLs where none was written, are what OFFERED_COLUMNS
    reads."""
    offer = ", ".join(f"%s AS {column}" for column in OFFER_COLUMNS)
    return [
        (
            f"WITH offer AS (SELECT {offer}) {body % {'json_object': 'json_object'}}"
            + (f" RETURNING {', '.join(columns)}" if columns else ""),
            len(columns),
        )
        for _name, body, _alias, columns in _STEPS
    ]


_OFFERED = (
    ("oc", Call, CALL_COLUMNS),
    ("ov", Voicemail, VOICEMAIL_COLUMNS),
    ("ob", CallbackRequest, CALLBACK_COLUMNS),
)
# What the claim statement returns of these writes, after its own columns.
OFFERED_COLUMNS = ", ".join(
    [_returning("oa", AGENT_COLUMNS)]
    + [_returning(alias, columns) for alias, _model, columns in _OFFERED]
    + ["ring.id"]
)
OFFERED_JOINS = """
    JOIN offered_agent oa ON true
    LEFT JOIN offered_call oc ON true
    LEFT JOIN offered_voicemail ov ON true
    LEFT JOIN offered_callback ob ON true
    LEFT JOIN offered_ring ring ON true"""


def offer_made(values: list) -> tuple[Agent, Call | Voicemail | CallbackRequest]:
    """After the claim statement (`values`: its OFFERED_COLUMNS): dashboards hear of the agent
    and the caller, and the ring is requested, after commit. The agent and what was offered
    (the caller, or the voicemail / callback request), with the fields written here."""
    agent = from_db(Agent, AGENT_COLUMNS, values[: len(AGENT_COLUMNS)])
    values, offered = values[len(AGENT_COLUMNS) :], None
    for _alias, model, columns in _OFFERED:
        row, values = values[: len(columns)], values[len(columns) :]
        if row[0] is not None:
            offered = from_db(model, columns, row)
    (ring_id,) = values
    notifications.agent_changed(agent)
    if isinstance(offered, Call):
        notifications.call_changed(offered)
    if ring_id is not None:
        from telephony.tasks import telephony_operation_task

        # What telephony.services.operation_request does for the operations it records.
        transaction.on_commit(lambda: telephony_operation_task.delay(ring_id))
    return agent, offered
