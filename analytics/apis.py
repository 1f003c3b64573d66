"""Reports API (GET /api/v1/reports/…): JSON, or CSV with `?format=csv`. Thin: selectors."""

import csv
import io
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import renderers, serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from callcenter.rest import HasRole
from callcenter.roles import is_admin, is_supervisor

from . import kpis, selectors, staffing

FORMULA_TEXT = "\n".join(
    f"- `{name}`: {text}" for group in kpis.FORMULAS.values() for name, text in group.items()
)
COMMON = (
    """
Periods are local dates, both included: `date_from`, `date_to` (default: the last 7 days).
A queue's days are cut in its own `time_zone`; agents' in CALLCENTER_TIME_ZONE. Percentiles
are nearest rank over histograms: exact to the second up to 30 s, then to 5 s up to 2 min,
15 s up to 10 min, 1 min up to 30 min, 5 min up to 1 h. Admins see every queue and agent,
supervisors their queues and those queues' members, agents only their own agent row.

KPI formulas:
"""
    + FORMULA_TEXT
)


class CSVRenderer(renderers.BaseRenderer):
    """`results` as CSV rows (nested objects flattened away); errors stay JSON."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None and response.status_code >= 400:
            response["Content-Type"] = "application/json"
            return renderers.JSONRenderer().render(data)
        if response is not None:
            response["Content-Disposition"] = 'attachment; filename="report.csv"'
        rows = data.get("results", []) if isinstance(data, dict) else data
        out = io.StringIO()
        if rows:
            columns = [k for k, v in rows[0].items() if not isinstance(v, dict | list)]
            writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        return out.getvalue().encode()


def default_period() -> tuple[date, date]:
    today = timezone.now().astimezone(ZoneInfo(settings.CALLCENTER_TIME_ZONE)).date()
    return today - timedelta(days=6), today


class PeriodInput(serializers.Serializer):
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
    queue = serializers.CharField(required=False, help_text="Queue ids, comma-separated.")
    granularity = serializers.ChoiceField(choices=selectors.GRANULARITIES, default="day")

    def validate_queue(self, value: str) -> list[int]:
        parts = [p.strip() for p in value.split(",") if p.strip()]
        if not parts or not all(p.isdigit() for p in parts):
            raise serializers.ValidationError("Queue ids, comma-separated.")
        return [int(p) for p in parts]

    def validate(self, attrs):
        first, last = default_period()
        attrs.setdefault("date_from", attrs.get("date_to", last) - (last - first))
        attrs.setdefault("date_to", attrs["date_from"] + (last - first))
        if attrs["date_to"] < attrs["date_from"]:
            raise serializers.ValidationError({"date_to": "Must not be before date_from."})
        days = (attrs["date_to"] - attrs["date_from"]).days + 1
        limit = selectors.MAX_DAYS[attrs["granularity"]]
        if days > limit:
            raise serializers.ValidationError(
                {"date_to": f"At most {limit} days at granularity {attrs['granularity']}."}
            )
        return attrs


def _period(request) -> dict:
    data = PeriodInput(data=request.query_params)
    data.is_valid(raise_exception=True)
    return data.validated_data


def _overseer(user) -> None:
    if not (is_admin(user) or is_supervisor(user)):
        raise PermissionDenied("Queue reports are for supervisors and admins.")


def _body(period: dict, results: list, formulas: dict, **extra) -> dict:
    return {"date_from": period["date_from"], "date_to": period["date_to"], **extra,
            "formulas": formulas, "results": results}  # fmt: skip


def _serializer(name: str, fields: dict) -> type[serializers.Serializer]:
    return type(name, (serializers.Serializer,), dict(fields))


_INT, _NUM = serializers.IntegerField, serializers.FloatField
QUEUE_KPI_FIELDS = {
    **{n: _INT() for n in ("offered", "answered", "answered_within_service_level", "abandoned",
                           "short_abandoned", "longest_wait_seconds", "transfers", "moved",
                           "overflows", "voicemails", "callbacks", "failed")},
    **{n: _NUM(allow_null=True) for n in ("service_level", "asa_seconds", "avg_abandon_seconds",
                                          "aht_seconds", "avg_talk_seconds", "avg_hold_seconds",
                                          "avg_wrap_up_seconds")},
    **{f"{m}_p{p}_seconds": _INT(allow_null=True) for m in ("wait", "handle")
       for p in kpis.PERCENTILES},
}  # fmt: skip
QueueRow = _serializer("QueueReportRow", {
    "queue": _INT(), "queue_name": serializers.CharField(), "time_zone": serializers.CharField(),
    "service_level_seconds": _INT(), "short_abandon_seconds": _INT(), **QUEUE_KPI_FIELDS,
})  # fmt: skip
IntervalRow = _serializer("IntervalReportRow", {
    "queue": _INT(), "queue_name": serializers.CharField(),
    "start": serializers.CharField(help_text="The period's start, local to the queue"),
    **QUEUE_KPI_FIELDS,
})  # fmt: skip
AgentRow = _serializer("AgentReportRow", {
    "agent": _INT(), "username": serializers.CharField(),
    **{n: _INT() for n in ("answered", "missed_offers", "logged_in_seconds",
                           "available_idle_seconds", "away_seconds", "handle_seconds")},
    **{n: _NUM(allow_null=True) for n in ("aht_seconds", "occupancy", "utilization")},
})  # fmt: skip
SummaryRow = _serializer("DailySummaryRow", {
    "queue": _INT(), "queue_name": serializers.CharField(), "date": serializers.DateField(),
    "generated_at": serializers.DateTimeField(), **QUEUE_KPI_FIELDS,
})  # fmt: skip


def _report(name: str, row, **extra) -> type[serializers.Serializer]:
    return _serializer(name, {
        "date_from": serializers.DateField(), "date_to": serializers.DateField(), **extra,
        "formulas": serializers.DictField(child=serializers.CharField()),
        "results": row(many=True),
    })  # fmt: skip


StaffingOutput = _serializer("StaffingOutput", {
    **{n: _NUM() for n in ("calls", "interval_seconds", "aht_seconds", "target_service_level",
                           "target_seconds", "max_occupancy", "shrinkage", "traffic_erlangs",
                           "service_level", "asa_seconds", "occupancy",
                           "probability_of_waiting")},
    "agents": _INT(), "scheduled_agents": _INT(),
})  # fmt: skip
QueueStaffingOutput = _serializer("QueueStaffingOutput", {
    "queue": _INT(), "date": serializers.DateField(), "weeks": _INT(),
    "target_seconds": _NUM(),
    "results": serializers.ListField(child=serializers.DictField(),
                                     help_text="slot, calls, aht_seconds, then Erlang C"),
})  # fmt: skip


class ReportView(APIView):
    permission_classes = [HasRole]
    renderer_classes = [renderers.JSONRenderer, CSVRenderer]


PERIOD_PARAMS = [
    OpenApiParameter("date_from", str, description="YYYY-MM-DD, local"),
    OpenApiParameter("date_to", str, description="YYYY-MM-DD, local, included"),
    OpenApiParameter("queue", str, description="queue ids, comma-separated"),
    OpenApiParameter("format", str, enum=["json", "csv"]),
]


class QueueReportView(ReportView):
    @extend_schema(
        summary="KPIs per queue over a period",
        description=COMMON,
        parameters=PERIOD_PARAMS,
        responses=_report("QueueReport", QueueRow),
    )
    def get(self, request):
        _overseer(request.user)
        period = _period(request)
        queues = selectors.report_queues(request.user, period.get("queue"))
        rows = selectors.queue_report(queues, period["date_from"], period["date_to"])
        return Response(_body(period, rows, kpis.QUEUE_FORMULAS))


class IntervalReportView(ReportView):
    @extend_schema(
        summary="KPIs per queue and period (15m, hour, day, week)",
        description=COMMON + "\n\n15m: at most 31 days; hour: 93; day and week: 366.",
        parameters=[
            *PERIOD_PARAMS,
            OpenApiParameter("granularity", str, enum=selectors.GRANULARITIES),
        ],
        responses=_report("IntervalReport", IntervalRow, granularity=serializers.CharField()),
    )
    def get(self, request):
        _overseer(request.user)
        period = _period(request)
        queues = selectors.report_queues(request.user, period.get("queue"))
        rows = selectors.interval_report(
            queues, period["date_from"], period["date_to"], period["granularity"]
        )
        return Response(_body(period, rows, kpis.QUEUE_FORMULAS, granularity=period["granularity"]))


class AgentReportView(ReportView):
    @extend_schema(
        summary="KPIs per agent over a period",
        description=COMMON,
        parameters=PERIOD_PARAMS,
        responses=_report("AgentReport", AgentRow),
    )
    def get(self, request):
        period = _period(request)
        ids = selectors.report_agent_ids(request.user)
        rows = selectors.agent_report(ids, period["date_from"], period["date_to"])
        return Response(_body(period, rows, kpis.AGENT_FORMULAS))


class StaffingInput(serializers.Serializer):
    calls = serializers.FloatField(min_value=0, max_value=1_000_000)
    interval_seconds = serializers.FloatField(min_value=60, max_value=86_400)
    aht_seconds = serializers.FloatField(min_value=1, max_value=86_400)
    target_service_level = serializers.FloatField(min_value=0.01, max_value=0.999)
    target_seconds = serializers.FloatField(min_value=0, max_value=3600)
    max_occupancy = serializers.FloatField(min_value=0.1, max_value=1.0, default=1.0)
    shrinkage = serializers.FloatField(min_value=0, max_value=0.9, default=0.0)


STAFFING_DOC = staffing.__doc__


class StaffingView(ReportView):
    @extend_schema(
        summary="Agents needed (Erlang C)",
        description=STAFFING_DOC,
        parameters=[OpenApiParameter(name, float) for name in StaffingInput().fields],
        responses=StaffingOutput,
    )
    def get(self, request):
        _overseer(request.user)
        data = StaffingInput(data=request.query_params)
        data.is_valid(raise_exception=True)
        try:
            result = staffing.agents_needed(**data.validated_data)
        except ValueError as exc:
            raise serializers.ValidationError({"calls": str(exc)}) from exc
        return Response({**data.validated_data, **result.as_dict()})


class QueueStaffingInput(serializers.Serializer):
    queue = serializers.IntegerField(min_value=1)
    date = serializers.DateField(required=False, help_text="The day to staff (default tomorrow).")
    weeks = serializers.IntegerField(min_value=1, max_value=13, default=4)
    target_service_level = serializers.FloatField(min_value=0.01, max_value=0.999, default=0.8)
    target_seconds = serializers.FloatField(min_value=0, max_value=3600, required=False)
    max_occupancy = serializers.FloatField(min_value=0.1, max_value=1.0, default=1.0)
    shrinkage = serializers.FloatField(min_value=0, max_value=0.9, default=0.0)


class QueueStaffingView(ReportView):
    @extend_schema(
        summary="Per-interval staffing recommendation for a queue from its own history",
        description="For each local 15-minute slot of `date`: the mean arrivals and AHT of "
        "the same weekday and slot over the previous `weeks` weeks (rollups), then Erlang C "
        "(see `staffing/`). `target_seconds` defaults to the queue's service-level seconds.",
        parameters=[OpenApiParameter(name, str) for name in QueueStaffingInput().fields],
        responses=QueueStaffingOutput,
    )
    def get(self, request):
        _overseer(request.user)
        data = QueueStaffingInput(data=request.query_params)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        queues = selectors.report_queues(request.user, [params["queue"]])
        if not queues:
            raise serializers.ValidationError({"queue": "No such queue among yours."})
        queue = queues[0]
        day = params.get("date") or timezone.now().astimezone(queue.tz).date() + timedelta(days=1)
        first = day - timedelta(weeks=params["weeks"])
        history = selectors.history_by_slot(queue, first, day - timedelta(days=1))
        weeks = history["days_by_weekday"].get(day.weekday(), 0) or 1
        target = params.get("target_seconds", queue.service_level_seconds)
        results = []
        for (weekday, slot), (offered, answered, handle) in sorted(history["slots"].items()):
            if weekday != day.weekday():
                continue
            calls = offered / weeks
            aht = handle / answered if answered else 0
            row = {"slot": slot, "calls": round(calls, 2), "aht_seconds": round(aht, 1)}
            if calls and aht:
                row |= staffing.agents_needed(
                    calls=calls, interval_seconds=900, aht_seconds=aht,
                    target_service_level=params["target_service_level"], target_seconds=target,
                    max_occupancy=params["max_occupancy"], shrinkage=params["shrinkage"],
                ).as_dict()  # fmt: skip
            else:
                row |= {"agents": 0, "scheduled_agents": 0}
            results.append(row)
        return Response({"queue": queue.pk, "date": day, "weeks": params["weeks"],
                         "target_seconds": target, "results": results})  # fmt: skip


class DailySummaryView(ReportView):
    @extend_schema(
        summary="Stored daily summaries (generated by beat each night)",
        description="One row per queue and local day, KPIs as computed when generated.\n"
        + FORMULA_TEXT,
        parameters=PERIOD_PARAMS,
        responses=_report("DailySummaryReport", SummaryRow),
    )
    def get(self, request):
        _overseer(request.user)
        period = _period(request)
        queues = selectors.report_queues(request.user, period.get("queue"))
        rows = [
            {"queue": s.queue_id, "queue_name": s.queue.name, "date": s.local_date,
             "generated_at": s.generated_at, **s.kpis}
            for s in selectors.daily_summaries(queues, period["date_from"], period["date_to"])
        ]  # fmt: skip
        return Response(_body(period, rows, kpis.QUEUE_FORMULAS))
