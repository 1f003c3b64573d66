"""The KPI definitions: one formula each, applied to summed rollup counters.

Every report, page and summary computes its figures here, and shows `FORMULAS` beside them.
Percentiles come from mergeable histograms (`EDGES`): nearest rank, reported as the lower edge
of the bucket holding it, so exact to the second up to 30 s, then to 5 s up to 2 min, 15 s up
to 10 min, 1 min up to 30 min, 5 min up to 1 h.
"""

from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from itertools import accumulate
from sys import byteorder

EDGES: tuple[int, ...] = (  # fewer than 256 buckets: a bucket list stores one byte each
    *range(0, 31), *range(35, 121, 5), *range(135, 601, 15), *range(660, 1801, 60),
    *range(2100, 3601, 300), 5400, 7200, 10800,
)  # fmt: skip
assert len(EDGES) <= 256
PERCENTILES = (50, 90, 95)
_WAIT_KEYS = tuple(f"wait_p{p}_seconds" for p in PERCENTILES)
_HANDLE_KEYS = tuple(f"handle_p{p}_seconds" for p in PERCENTILES)
BIG_ENDIAN = byteorder == "big"

QUEUE_FORMULAS = {
    "offered": "queue entries in the period (a call entering two queues counts in each)",
    "answered": "entries an agent answered",
    "abandoned": "caller hung up while waiting, wait ≥ the queue's short-abandon threshold",
    "short_abandoned": "caller hung up while waiting, wait < the short-abandon threshold",
    "service_level": "answered within the queue's service-level seconds ÷ (answered + abandoned)",
    "asa_seconds": "sum of wait of answered entries ÷ answered",
    "avg_abandon_seconds": "sum of wait of abandoned entries ÷ abandoned",
    "aht_seconds": "sum of (talk + hold + wrap-up) of answered entries ÷ answered",
    "longest_wait_seconds": "maximum wait of any entry, answered or not",
    "wait_p50/p90/p95": "nearest-rank percentile of the wait of answered entries",
    "handle_p50/p90/p95": "nearest-rank percentile of talk + hold + wrap-up of answered entries",
    "transfers": "answered entries an agent then transferred to another queue",
    "moved": "entries moved to another queue before an answer (escalation or supervisor)",
    "overflows": "entries that left for the queue's overflow queue",
    "voicemails": "entries that ended in a voicemail",
    "callbacks": "entries that ended in a callback request",
}  # fmt: skip
AGENT_FORMULAS = {
    "answered": "entries the agent answered",
    "missed_offers": "offers the agent rejected or let ring out",
    "handle_seconds": "time with activity on a call or in wrap-up",
    "aht_seconds": "sum of (talk + hold + wrap-up) of the agent's answered entries ÷ answered",
    "occupancy": "handle ÷ (handle + available idle)",
    "utilization": "(handle + available idle) ÷ logged in (status not offline)",
}
FORMULAS = {"queues": QUEUE_FORMULAS, "agents": AGENT_FORMULAS}


def bucket(seconds: int) -> int:
    """The histogram bucket of a non-negative number of seconds."""
    return bisect_right(EDGES, max(0, seconds)) - 1


def empty_histogram() -> array:
    """A histogram: one count per bucket of EDGES, dense, so reading and merging one costs the
    same whatever the volume; stored as the bytes of an array of 32-bit counts."""
    return array("I", bytes(4 * len(EDGES)))


def from_bytes(blob) -> array:
    if not blob:
        return empty_histogram()
    out = array("I")
    out.frombytes(blob)
    if BIG_ENDIAN:
        out.byteswap()
    return out


def to_bytes(hist) -> bytes:
    """Little-endian 32-bit counts, as the rollup SQL packs them (analytics.dialect)."""
    out = array("I", hist)
    if BIG_ENDIAN:
        out.byteswap()
    return out.tobytes()


def from_bucket_list(blob) -> array:
    """The histogram of a bucket list: each entry's bucket as one byte, ascending (a 15-minute
    row's form: a handful of entries, written a million times by a recompute, so it holds
    the entries rather than 109 counts)."""
    out = empty_histogram()
    for index, count in Counter(bytes(blob or b"")).items():
        out[index] = count
    return out


def sum_packed(blob) -> array:
    """The bucket-by-bucket sum of packed histograms stored one after the other.

    Each histogram is read as one little-endian integer and the integers are added: an
    addition sums every 32-bit bucket at once, with no carry from one bucket into the next
    while a bucket's total stays below 2**32 entries. So the time depends on the number of
    histograms only, not on their counts (summing bucket slices made a Python int of every
    count, and counts past 256 cost an allocation each: a busy center's reports ran slower
    than a quiet one's over the same number of rows)."""
    size = 4 * len(EDGES)
    if len(blob) <= size:
        return from_bytes(blob)
    view = memoryview(blob)
    total = sum(int.from_bytes(view[i : i + size], "little") for i in range(0, len(view), size))
    return from_bytes(total.to_bytes(size, "little"))


def sum_histograms(blobs) -> array:
    """The bucket-by-bucket sum of stored histograms (bytes) or counts."""
    arrays = [b if isinstance(b, array | list) else from_bytes(b) for b in blobs if b]
    if not arrays:
        return empty_histogram()
    if len(arrays) == 1:
        return array("I", arrays[0])
    return array("I", map(sum, zip(*arrays, strict=True)))


def histogram(values) -> array:
    out = empty_histogram()
    for value in values:
        out[bucket(value)] += 1
    return out


def percentiles(hist, ps=PERCENTILES) -> dict[int, int | None]:
    """Nearest-rank p-th percentiles: the lower edge of the bucket holding rank ⌈p/100 · n⌉
    (one cumulative pass, then a binary search per p)."""
    return dict(zip(ps, _percentile_values(hist, ps), strict=True))


def _percentile_values(hist, ps) -> tuple:
    if isinstance(hist, bytes | memoryview):
        hist = from_bytes(hist)
    cumulative = list(accumulate(hist)) if hist else []
    total = cumulative[-1] if cumulative else 0
    if not total:
        return (None,) * len(ps)
    # ⌈p · n / 100⌉ in integers (at least rank 1).
    return tuple(EDGES[bisect_left(cumulative, -(-p * total // 100) or 1)] for p in ps)


def percentile(hist, p: int) -> int | None:
    return _percentile_values(hist, (p,))[0]


def _ratio(num, den, digits=4):
    return round(num / den, digits) if den else None


def queue_kpis(c: dict) -> dict:
    """The queue KPIs of summed counters `c` (rollup column names, histograms merged)."""
    answered, abandoned = c["answered"], c["abandoned"]
    out = {
        "offered": c["offered"],
        "answered": answered,
        "answered_within_service_level": c["answered_within_sl"],
        "abandoned": abandoned,
        "short_abandoned": c["short_abandoned"],
        "service_level": _ratio(c["answered_within_sl"], answered + abandoned),
        "asa_seconds": _ratio(c["wait_answered_sum"], answered, 1),
        "avg_abandon_seconds": _ratio(c["abandon_wait_sum"], abandoned, 1),
        "aht_seconds": _ratio(c["handle_sum"], answered, 1),
        "avg_talk_seconds": _ratio(c["talk_sum"], answered, 1),
        "avg_hold_seconds": _ratio(c["hold_sum"], answered, 1),
        "avg_wrap_up_seconds": _ratio(c["wrap_up_sum"], answered, 1),
        "longest_wait_seconds": c["longest_wait"],
        "transfers": c["transfers"],
        "moved": c["moved"],
        "overflows": c["overflows"],
        "voicemails": c["voicemails"],
        "callbacks": c["callbacks"],
        "failed": c["failed"],
    }
    for name, keys in (("wait", _WAIT_KEYS), ("handle", _HANDLE_KEYS)):
        out.update(zip(keys, _percentiles_of(c, name), strict=True))
    return out


def _percentiles_of(c: dict, name: str) -> tuple:
    """`name`'s (wait or handle) percentiles: of the buckets a day row stores
    (`<name>_percentile_buckets`, analytics.models.QueueDay) or of the histogram."""
    stored = c.get(f"{name}_percentile_buckets")
    if stored is not None:
        return tuple(None if index is None else EDGES[index] for index in stored)
    return _percentile_values(c[f"{name}_histogram"], PERCENTILES)


def agent_kpis(c: dict) -> dict:
    """The agent KPIs of summed AgentInterval counters `c`."""
    handle = c["on_call_seconds"] + c["wrap_up_seconds"]
    idle = c["available_idle_seconds"]
    return {
        "answered": c["answered"],
        "missed_offers": c["missed_offers"],
        "logged_in_seconds": round(c["logged_in_seconds"]),
        "available_idle_seconds": round(idle),
        "away_seconds": round(c["away_seconds"]),
        "handle_seconds": round(handle),
        "aht_seconds": _ratio(c["handle_sum"], c["answered"], 1),
        "occupancy": _ratio(handle, handle + idle),
        "utilization": _ratio(handle + idle, c["logged_in_seconds"]),
    }
