"""The supervisor report page (/reports/): KPI tables with their formulas and server-rendered
SVG charts (no chart library): service level trend, volume and abandons, ASA, agent occupancy."""

from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from callcenter.roles import is_admin, is_supervisor

from . import kpis, selectors
from .apis import PeriodInput

WIDTH, HEIGHT, PAD = 640, 180, 30


@dataclass
class Chart:
    title: str
    formula: str
    width: int
    height: int
    bars: list  # (x, y, w, h, colour, label)
    lines: list  # (points "x,y x,y", colour)
    labels: list  # (x, y, text)
    empty: bool


def _chart(title: str, formula: str, points: list[tuple[str, list]], series, *, top=None) -> Chart:
    """`points`: [(label, [value per series])]; series: [(name, colour, "bar"|"line")]."""
    values = [v for _, vs in points for v in vs if v is not None]
    peak = top or max(values, default=0) or 1
    n = max(len(points), 1)
    step = (WIDTH - 2 * PAD) / n
    bars, lines, labels = [], [], []
    bar_series = [s for s in series if s[2] == "bar"]
    bar_w = step / max(len(bar_series), 1) * 0.8
    for si, (_, colour, kind) in enumerate(series):
        path = []
        for i, (_, vs) in enumerate(points):
            v = vs[si]
            if v is None:
                continue
            x = PAD + i * step
            h = (HEIGHT - 2 * PAD) * v / peak
            y = HEIGHT - PAD - h
            if kind == "bar":
                k = bar_series.index(series[si])
                bars.append(
                    (
                        round(x + k * bar_w, 1),
                        round(y, 1),
                        round(bar_w, 1),
                        round(h, 1),
                        colour,
                        f"{v}",
                    )
                )
            else:
                path.append(f"{x + step / 2:.1f},{y:.1f}")
        if path:
            lines.append((" ".join(path), colour))
    labels.append((4, PAD, f"{peak:g}"))
    labels.append((4, HEIGHT - PAD, "0"))
    for i in sorted({0, n // 2, n - 1}):
        if i < len(points):
            labels.append((PAD + i * step, HEIGHT - 8, points[i][0]))
    return Chart(title, formula, WIDTH, HEIGHT, bars, lines, labels, not values)


@login_required
def reports(request):
    user = request.user
    if not (is_admin(user) or is_supervisor(user)):
        raise PermissionDenied("Reports are for supervisors and admins.")
    form = PeriodInput(data=request.GET)
    errors = None
    if not form.is_valid():
        errors, form = form.errors, PeriodInput(data={})
        form.is_valid()
    period = form.validated_data
    visible = selectors.report_queues(user)
    chosen = set(period.get("queue") or ())
    queues = [q for q in visible if q.pk in chosen] if chosen else visible
    first, last, granularity = period["date_from"], period["date_to"], period["granularity"]
    queue_rows = selectors.queue_report(queues, first, last)
    intervals = selectors.interval_report(queues, first, last, granularity)
    agent_rows = selectors.agent_report(selectors.report_agent_ids(user), first, last)
    # Charts over all the visible queues: sum per period start (local text of each queue).
    per_start: dict[str, dict] = {}
    for row in intervals:
        per_start.setdefault(row["start"][:16], []).append(row)
    points = sorted(per_start.items())

    def total(rows, name):
        return sum(r[name] or 0 for r in rows)

    def sl(rows):
        den = total(rows, "answered") + total(rows, "abandoned")
        return round(total(rows, "answered_within_service_level") / den, 3) if den else None

    def asa(rows):
        answered = total(rows, "answered")
        return (
            round(sum((r["asa_seconds"] or 0) * r["answered"] for r in rows) / answered, 1)
            if answered
            else None
        )

    volume = [(k, [total(rs, n) for n in ("offered", "answered", "abandoned")]) for k, rs in points]
    occupancy = [(r["username"], [r["occupancy"]]) for r in agent_rows]
    charts = [
        _chart("Service level", kpis.QUEUE_FORMULAS["service_level"],
               [(k, [sl(rs)]) for k, rs in points], [("SL", "#2a7", "line")], top=1),
        _chart("Volume and abandons", "offered, answered and abandoned entries", volume,
               [("offered", "#89a", "bar"), ("answered", "#2a7", "bar"),
                ("abandoned", "#c44", "bar")]),
        _chart("ASA (s)", kpis.QUEUE_FORMULAS["asa_seconds"],
               [(k, [asa(rs)]) for k, rs in points], [("ASA", "#36c", "line")]),
        _chart("Agent occupancy", kpis.AGENT_FORMULAS["occupancy"], occupancy,
               [("occupancy", "#a63", "bar")], top=1),
    ]  # fmt: skip
    context = {
        "period": period,
        "errors": errors,
        "granularities": selectors.GRANULARITIES,
        "queue_rows": queue_rows,
        "agent_rows": agent_rows,
        "charts": charts,
        "queue_formulas": kpis.QUEUE_FORMULAS,
        "agent_formulas": kpis.AGENT_FORMULAS,
        "queues": visible,
        "chosen": chosen,
        # The CSV links ask for what the page shows: the period as validated, not the raw query.
        "query": urlencode(
            {"date_from": first, "date_to": last, "granularity": granularity}
            | ({"queue": ",".join(map(str, sorted(chosen)))} if chosen else {})
        ),
    }
    return render(request, "analytics/reports.html", context)
