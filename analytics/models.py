"""Analytics' own tables: facts derived from the event logs, 15-minute and daily rollups, the
rollup watermark and the stored daily summaries. Nothing else writes them (analytics.services).
"""

from django.db import models
from django.db.models import Q

from analytics.kpis import PERCENTILES

# Derived rows point at calls, queues and agents without database-level foreign keys or
# one-column indexes: a recompute writes a million facts and a million rollup rows, and a
# deferred check per row and key (plus an index the composite ones already cover) would cost
# more than the derivation. Django still cascades deletes; only analytics writes these rows,
# from rows it has just read.
DERIVED = {"on_delete": models.CASCADE, "related_name": "+", "db_constraint": False,
           "db_index": False}  # fmt: skip


class EntryOutcome(models.TextChoices):
    """How a queue entry ended (a call that entered two queues has two entries)."""

    ANSWERED = "answered"
    ABANDONED = "abandoned"
    SHORT_ABANDONED = "short_abandoned"
    TRANSFERRED = "transferred", "Moved to another queue before an answer"
    OVERFLOWED = "overflowed"
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"
    FAILED = "failed"


class QueueEntryFact(models.Model):
    """One queue entry of a customer call, derived from the Call row and its CallEvents."""

    call = models.ForeignKey("callcenter.Call", **DERIVED)
    seq = models.PositiveSmallIntegerField(help_text="0 for the call's first queue entry.")
    queue = models.ForeignKey("callcenter.Queue", **DERIVED)
    agent = models.ForeignKey("callcenter.Agent", null=True, blank=True,
                              **{**DERIVED, "on_delete": models.SET_NULL})  # fmt: skip
    outcome = models.CharField(max_length=20, choices=EntryOutcome.choices)
    transferred_out = models.BooleanField(default=False, help_text="Answered, then transferred.")
    entered_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    left_at = models.DateTimeField(help_text="Out of the queue: answered, or gone unanswered.")
    service_ended_at = models.DateTimeField(null=True, blank=True)
    wait_seconds = models.PositiveIntegerField()
    talk_seconds = models.PositiveIntegerField(default=0)
    hold_seconds = models.PositiveIntegerField(default=0)
    wrap_up_seconds = models.PositiveIntegerField(default=0)
    handle_seconds = models.PositiveIntegerField(default=0)
    within_service_level = models.BooleanField(default=False)
    # Where the entry is counted: the queue's 15-minute interval and local day of entered_at,
    # the agent's interval of answered_at; histogram buckets (analytics.kpis.EDGES).
    interval_start = models.DateTimeField()
    local_date = models.DateField()
    agent_interval_start = models.DateTimeField(null=True, blank=True)
    wait_bucket = models.PositiveSmallIntegerField()
    handle_bucket = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["call_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["call", "seq"], name="analytics_entry_call_seq_unique"),
            models.CheckConstraint(
                condition=Q(outcome=EntryOutcome.ANSWERED)
                | Q(answered_at__isnull=True, agent_interval_start__isnull=True),
                name="analytics_entry_answer_iff_answered",
            ),
        ]
        indexes = [
            # Rollups of a queue's dirty intervals and days.
            models.Index(fields=["queue", "interval_start"], name="analytics_entry_q_interval_idx"),
            models.Index(fields=["queue", "local_date"], name="analytics_entry_q_date_idx"),
            # Agent rollups and the wrap-up re-derivation after an agent's late event.
            models.Index(
                fields=["agent", "agent_interval_start"], name="analytics_entry_agent_idx"
            ),
            models.Index(
                fields=["agent", "service_ended_at"], name="analytics_entry_agent_end_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"call {self.call_id} entry {self.seq}: {self.outcome}"


class MissedOfferFact(models.Model):
    """An offer the agent rejected or let ring out (routing's Reservation), per call."""

    reservation_id = models.BigIntegerField(primary_key=True)
    call = models.ForeignKey("callcenter.Call", **DERIVED)
    agent = models.ForeignKey("callcenter.Agent", **DERIVED)
    queue = models.ForeignKey("callcenter.Queue", **DERIVED)
    offered_at = models.DateTimeField()
    interval_start = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["agent", "interval_start"], name="analytics_missed_agent_idx"),
            models.Index(fields=["call"], name="analytics_missed_call_idx"),
        ]

    def __str__(self) -> str:
        return f"missed offer {self.reservation_id}"


QUEUE_COUNTERS = (
    "offered", "answered", "answered_within_sl", "abandoned", "short_abandoned", "transfers",
    "moved", "overflows", "voicemails", "callbacks", "failed", "wait_answered_sum",
    "abandon_wait_sum", "talk_sum", "hold_sum", "wrap_up_sum", "handle_sum",
)  # fmt: skip


class QueueRollup(models.Model):
    """Counters and histograms of a queue's entries (both rollup tables)."""

    queue = models.ForeignKey("callcenter.Queue", **DERIVED)
    offered = models.PositiveIntegerField(default=0)
    answered = models.PositiveIntegerField(default=0)
    answered_within_sl = models.PositiveIntegerField(default=0)
    abandoned = models.PositiveIntegerField(default=0)
    short_abandoned = models.PositiveIntegerField(default=0)
    transfers = models.PositiveIntegerField(default=0)
    moved = models.PositiveIntegerField(default=0)
    overflows = models.PositiveIntegerField(default=0)
    voicemails = models.PositiveIntegerField(default=0)
    callbacks = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    wait_answered_sum = models.BigIntegerField(default=0)
    abandon_wait_sum = models.BigIntegerField(default=0)
    talk_sum = models.BigIntegerField(default=0)
    hold_sum = models.BigIntegerField(default=0)
    wrap_up_sum = models.BigIntegerField(default=0)
    handle_sum = models.BigIntegerField(default=0)
    longest_wait = models.PositiveIntegerField(default=0)
    # Answered entries' wait and handle time over the buckets of analytics.kpis.EDGES: a
    # day's as one 32-bit count per bucket (kpis.to_bytes / from_bytes), a 15-minute row's,
    # which holds a few entries, as their buckets, one byte each (kpis.from_bucket_list).
    wait_histogram = models.BinaryField(default=bytes)
    handle_histogram = models.BinaryField(default=bytes)

    class Meta:
        abstract = True


class QueueInterval(QueueRollup):
    """A queue's entries that entered in one 15-minute interval (UTC-aligned)."""

    interval_start = models.DateTimeField()

    class Meta:
        ordering = ["queue_id", "interval_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["queue", "interval_start"], name="analytics_queue_interval_unique"
            )
        ]
        indexes = [
            # Reports over every queue for a period.
            models.Index(fields=["interval_start"], name="analytics_q_interval_time_idx")
        ]

    def __str__(self) -> str:
        return f"queue {self.queue_id} @ {self.interval_start:%Y-%m-%d %H:%M}"


class QueueDay(QueueRollup):
    """A queue's entries that entered on one day of the queue's time zone."""

    local_date = models.DateField()
    # The nearest-rank percentiles (kpis.PERCENTILES) of the day's two histograms, as bucket
    # indexes of kpis.EDGES, NULL without answered entries: a report by day reads these
    # instead of decoding two histograms a row (DAY_PERCENTILE_COLUMNS).
    wait_p50_bucket = models.PositiveSmallIntegerField(null=True, blank=True)
    wait_p90_bucket = models.PositiveSmallIntegerField(null=True, blank=True)
    wait_p95_bucket = models.PositiveSmallIntegerField(null=True, blank=True)
    handle_p50_bucket = models.PositiveSmallIntegerField(null=True, blank=True)
    handle_p90_bucket = models.PositiveSmallIntegerField(null=True, blank=True)
    handle_p95_bucket = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["queue_id", "local_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["queue", "local_date"], name="analytics_queue_day_unique"
            )
        ]
        indexes = [models.Index(fields=["local_date"], name="analytics_q_day_date_idx")]

    def __str__(self) -> str:
        return f"queue {self.queue_id} on {self.local_date}"


DAY_PERCENTILE_COLUMNS = {
    name: tuple(f"{name}_p{p}_bucket" for p in PERCENTILES) for name in ("wait", "handle")
}
assert all(QueueDay._meta.get_field(c) for cs in DAY_PERCENTILE_COLUMNS.values() for c in cs)


AGENT_COUNTERS = (
    "logged_in_seconds", "available_idle_seconds", "offered_seconds", "on_call_seconds",
    "wrap_up_seconds", "away_seconds", "answered", "talk_sum", "hold_sum", "wrap_up_sum",
    "handle_sum", "missed_offers",
)  # fmt: skip


class AgentInterval(models.Model):
    """An agent's 15-minute interval: time per status/activity (AgentStatusEvent), calls
    answered with their talk/hold/wrap-up (entry facts), offers missed (reservations)."""

    agent = models.ForeignKey("callcenter.Agent", **DERIVED)
    interval_start = models.DateTimeField()
    logged_in_seconds = models.FloatField(default=0, help_text="Status not offline.")
    available_idle_seconds = models.FloatField(default=0, help_text="Available and idle.")
    offered_seconds = models.FloatField(default=0, help_text="Activity offered (ringing).")
    on_call_seconds = models.FloatField(default=0)
    wrap_up_seconds = models.FloatField(default=0)
    away_seconds = models.FloatField(default=0)
    answered = models.PositiveIntegerField(default=0)
    talk_sum = models.BigIntegerField(default=0)
    hold_sum = models.BigIntegerField(default=0)
    wrap_up_sum = models.BigIntegerField(default=0)
    handle_sum = models.BigIntegerField(default=0)
    missed_offers = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["agent_id", "interval_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["agent", "interval_start"], name="analytics_agent_interval_unique"
            )
        ]
        indexes = [models.Index(fields=["interval_start"], name="analytics_a_interval_time_idx")]

    def __str__(self) -> str:
        return f"agent {self.agent_id} @ {self.interval_start:%Y-%m-%d %H:%M}"


class RollupState(models.Model):
    """The incremental rollup's watermarks (one row): events up to these instants are in."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    call_events_until = models.DateTimeField(null=True, blank=True)
    agent_events_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="analytics_state_single_row")]

    def __str__(self) -> str:
        return f"rollup state: calls {self.call_events_until}, agents {self.agent_events_until}"


class DailySummary(models.Model):
    """A queue's KPIs for one of its local days, generated by beat after the day is over."""

    queue = models.ForeignKey("callcenter.Queue", on_delete=models.CASCADE, related_name="+")
    local_date = models.DateField()
    generated_at = models.DateTimeField()
    kpis = models.JSONField(default=dict)

    class Meta:
        ordering = ["-local_date", "queue_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["queue", "local_date"], name="analytics_daily_summary_unique"
            )
        ]

    def __str__(self) -> str:
        return f"queue {self.queue_id} summary of {self.local_date}"
