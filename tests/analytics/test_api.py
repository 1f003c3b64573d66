"""Reports API: shapes, CSV, permissions, bad input, and a query count that does not grow
with the number of calls."""

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from analytics.models import DailySummary, QueueDay
from analytics.services import daily_summaries_generate, rollup_recompute, rollup_run
from callcenter.choices import CallOutcome
from tests.analytics.builders import agent_timeline, ended_call, queue_exit
from tests.factories import AgentFactory, QueueFactory, UserFactory

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
S = timedelta(seconds=1)
PERIOD = {"date_from": "2026-01-05", "date_to": "2026-01-11"}


def calls(queue, agent, n, start=T0):
    for i in range(n):
        at = start + i * 97 * S
        if i % 3:
            ended_call(queue, created=at, enqueued=at, answered=at + (i % 40) * S,
                       ended=at + 200 * S, agent=agent)  # fmt: skip
        else:
            call = ended_call(queue, created=at, enqueued=at, ended=at + 30 * S,
                              outcome=CallOutcome.ABANDONED)  # fmt: skip
            queue_exit(call, queue, at + 30 * S, "hangup", 30)


@pytest.fixture
def world(db):
    mine, theirs = QueueFactory(name="Mine"), QueueFactory(name="Theirs")
    boss = UserFactory(roles=["supervisor"])
    mine.supervisors.add(boss)
    alice, bob = AgentFactory(queues=[mine]), AgentFactory(queues=[theirs])
    agent_timeline(alice, [(T0 - 600 * S, "available", "idle"), (T0 + 3600 * S, "offline", "idle")])
    agent_timeline(bob, [(T0 - 600 * S, "available", "idle"), (T0 + 1800 * S, "offline", "idle")])
    calls(mine, alice, 6)
    calls(theirs, bob, 3)
    rollup_run(now=T0 + timedelta(days=1))
    return {"mine": mine, "theirs": theirs, "boss": boss, "alice": alice, "bob": bob,
            "admin": UserFactory(roles=["admin"])}  # fmt: skip


def test_queue_report_json_has_kpis_and_formulas(api, world):
    api.force_authenticate(world["admin"])
    body = api.get("/api/v1/reports/queues/", PERIOD).json()
    rows = {r["queue_name"]: r for r in body["results"]}
    assert rows["Mine"]["offered"] == 6 and rows["Mine"]["answered"] == 4
    assert rows["Mine"]["abandoned"] == 2 and rows["Theirs"]["offered"] == 3
    assert "service_level" in body["formulas"]


def test_supervisors_see_their_queues_and_their_members_only(api, world):
    api.force_authenticate(world["boss"])
    queues = api.get("/api/v1/reports/queues/", PERIOD).json()["results"]
    assert [r["queue_name"] for r in queues] == ["Mine"]
    rows = api.get("/api/v1/reports/intervals/", {**PERIOD, "granularity": "hour"}).json()
    assert {r["queue_name"] for r in rows["results"]} == {"Mine"}
    agents = api.get("/api/v1/reports/agents/", PERIOD).json()["results"]
    assert [r["agent"] for r in agents] == [world["alice"].pk]
    # Asking for another queue by id gives nothing of it.
    other = api.get("/api/v1/reports/queues/", {**PERIOD, "queue": world["theirs"].pk}).json()
    assert other["results"] == []


def test_agents_get_their_own_row_and_no_queue_reports(api, world):
    api.force_authenticate(world["alice"].user)
    assert api.get("/api/v1/reports/queues/", PERIOD).status_code == 403
    assert api.get("/api/v1/reports/intervals/", PERIOD).status_code == 403
    assert api.get("/api/v1/reports/staffing/queue/", {"queue": 1}).status_code == 403
    rows = api.get("/api/v1/reports/agents/", PERIOD).json()["results"]
    assert [r["agent"] for r in rows] == [world["alice"].pk]


def test_anonymous_and_roleless_users_are_refused(api, world):
    assert api.get("/api/v1/reports/queues/").status_code == 401
    api.force_authenticate(UserFactory())
    response = api.get("/api/v1/reports/agents/")
    assert response.status_code == 403
    assert response.json()["error"]["status"] == 403


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"date_from": "2026-13-01"}, "date_from"),
        ({"date_from": "2026-01-10", "date_to": "2026-01-01"}, "date_to"),
        ({"granularity": "minute"}, "granularity"),
        ({"granularity": "15m", "date_from": "2026-01-01", "date_to": "2026-03-01"}, "date_to"),
        ({"queue": "1,x"}, "queue"),
    ],
)
def test_bad_input_is_a_clear_400(api, world, params, field):
    api.force_authenticate(world["admin"])
    response = api.get("/api/v1/reports/intervals/", params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and field in error["details"]


def test_csv(api, world):
    api.force_authenticate(world["admin"])
    response = api.get("/api/v1/reports/intervals/", {**PERIOD, "granularity": "day",
                                                       "format": "csv"})  # fmt: skip
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert {(r["queue_name"], r["start"], r["offered"]) for r in rows} == {
        ("Mine", "2026-01-05T00:00:00+00:00", "6"),
        ("Theirs", "2026-01-05T00:00:00+00:00", "3"),
    }
    error = api.get("/api/v1/reports/queues/", {"date_from": "nope", "format": "csv"})
    assert error.status_code == 400 and error.json()["error"]["code"] == "invalid"


def test_week_granularity_starts_on_monday(api, world):
    api.force_authenticate(world["admin"])
    params = {"date_from": "2026-01-01", "date_to": "2026-01-31", "granularity": "week",
              "queue": world["mine"].pk}  # fmt: skip
    rows = api.get("/api/v1/reports/intervals/", params).json()
    assert [(r["start"], r["offered"]) for r in rows["results"]] == [
        ("2026-01-05T00:00:00+00:00", 6)
    ]


@pytest.mark.parametrize(
    ("path", "params", "queries"),
    [
        ("/api/v1/reports/queues/", {}, 3),  # roles, queues, days
        ("/api/v1/reports/intervals/", {"granularity": "15m"}, 3),  # roles, queues, intervals
        ("/api/v1/reports/intervals/", {"granularity": "week"}, 3),  # roles, queues, days
        ("/api/v1/reports/agents/", {}, 4),  # roles, visible members, sums, names
    ],
)
def test_reports_answer_in_constant_queries(api, world, path, params, queries,
                                            django_assert_num_queries):  # fmt: skip
    boss = world["boss"]
    api.force_authenticate(type(boss).objects.get(pk=boss.pk))  # nothing cached on it
    query = {**PERIOD, **params}
    with django_assert_num_queries(queries):
        small = api.get(path, query).json()["results"]
    # Ten times the calls in the same queues and days: the same queries.
    calls(world["mine"], world["alice"], 60, start=T0 + timedelta(hours=2))
    rollup_recompute(begin=date(2026, 1, 5), end=date(2026, 1, 5), now=T0 + timedelta(days=2))
    api.force_authenticate(type(boss).objects.get(pk=boss.pk))
    with django_assert_num_queries(queries):
        large = api.get(path, query).json()["results"]
    assert small != large


def test_staffing_erlang_c(api, world):
    api.force_authenticate(world["boss"])
    params = {"calls": 100, "interval_seconds": 1800, "aht_seconds": 180,
              "target_service_level": 0.8, "target_seconds": 20}  # fmt: skip
    body = api.get("/api/v1/reports/staffing/", params).json()
    assert body["agents"] == 14
    assert body["traffic_erlangs"] == 10.0
    assert body["service_level"] == 0.8884  # 13 agents would give 0.7956
    assert body["asa_seconds"] == 7.8
    assert body["occupancy"] == round(10 / 14, 4)
    # Occupancy capped at 70%: 15 agents; 30% shrinkage: ⌈15 ÷ 0.7⌉ = 22 scheduled.
    capped = api.get("/api/v1/reports/staffing/", {**params, "max_occupancy": 0.7,
                                                    "shrinkage": 0.3}).json()  # fmt: skip
    assert (capped["agents"], capped["scheduled_agents"]) == (15, 22)
    bad = api.get("/api/v1/reports/staffing/", {**params, "target_service_level": 1.5})
    assert bad.status_code == 400 and "target_service_level" in bad.json()["error"]["details"]
    assert api.get("/api/v1/reports/staffing/", {"calls": 5}).status_code == 400


def test_erlang_c_textbook_values():
    from analytics.staffing import erlang_c, predict

    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)  # M/M/2 at utilisation 0.5
    assert erlang_c(10, 10.0) == 1.0  # no more agents than traffic: everyone waits
    sl, _asa, pw = predict(13, 10.0, 180, 20)
    assert round(sl, 4) == 0.7956 and round(pw, 4) == 0.2853


def test_queue_staffing_recommendation_from_its_history(api, world):
    api.force_authenticate(world["boss"])
    mine = world["mine"]
    # Monday 5 January in history; staff Monday 12 January from the last week.
    body = api.get("/api/v1/reports/staffing/queue/",
                   {"queue": mine.pk, "date": "2026-01-12", "weeks": 1}).json()  # fmt: skip
    slots = {r["slot"]: r for r in body["results"]}
    # 6 calls from 10:00 every 97 s: 10:00-10:15 holds 6 (0…485 s) of which 4 answered.
    assert slots["10:00"]["calls"] == 6
    assert slots["10:00"]["agents"] >= 1
    theirs = api.get("/api/v1/reports/staffing/queue/", {"queue": world["theirs"].pk})
    assert theirs.status_code == 400


def test_daily_summary_is_stored_once_and_downloadable(api, world):
    now = datetime(2026, 1, 6, 3, 0, tzinfo=UTC)
    assert daily_summaries_generate(now=now) == 2
    assert daily_summaries_generate(now=now) == 0  # already stored
    summary = DailySummary.objects.get(queue=world["mine"])
    assert summary.local_date == date(2026, 1, 5) and summary.kpis["offered"] == 6
    api.force_authenticate(world["boss"])
    response = api.get("/api/v1/reports/daily-summaries/", {**PERIOD, "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["queue_name"], r["date"], r["offered"]) for r in rows] == [
        ("Mine", "2026-01-05", "6")
    ]


def test_recompute_command_rebuilds_a_range(world):
    QueueDay.objects.all().delete()
    call_command("analytics_recompute", "--from", "2026-01-05", "--to", "2026-01-05")
    assert QueueDay.objects.get(queue=world["mine"]).offered == 6
    fields = [f.name for f in QueueDay._meta.fields if f.name != "id"]  # rows are rewritten
    before = list(QueueDay.objects.values(*fields))
    call_command("analytics_recompute", "--from", "2026-01-05", "--to", "2026-01-05")
    assert list(QueueDay.objects.values(*fields)) == before  # idempotent
    with pytest.raises(CommandError):
        call_command("analytics_recompute", "--from", "2026-01-05", "--to", "2026-01-01")


def test_report_page_shows_charts_and_formulas(client, world):
    client.force_login(world["boss"])
    page = client.get("/reports/", {**PERIOD, "granularity": "hour"})
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count("<svg") == 4
    assert "answered within the queue&#x27;s service-level seconds ÷ (answered + abandoned)" in html
    client.force_login(world["alice"].user)
    assert client.get("/reports/").status_code == 403


def test_report_page_filters_a_queue_and_links_csv_of_what_it_shows(client, world):
    client.force_login(world["admin"])
    mine = world["mine"].pk
    html = client.get("/reports/", {**PERIOD, "queue": mine}).content.decode()
    assert f'<option value="{mine}" selected>Mine</option>' in html
    assert f'<option value="{world["theirs"].pk}">Theirs</option>' in html
    link = "/api/v1/reports/queues/?date_from=2026-01-05&amp;date_to=2026-01-11&amp;granularity=day"
    assert f"{link}&amp;queue={mine}&amp;format=csv" in html
    # A bad query shows the default period, and so do its links (not the bad query again).
    html = client.get("/reports/", {"date_from": "soon", "queue": mine}).content.decode()
    assert "date_from=soon" not in html and "granularity=day&amp;format=csv" in html


def test_openapi_documents_the_reports_with_their_formulas(api, world):
    api.force_authenticate(world["admin"])
    schema = api.get("/api/v1/schema/", {"format": "json"}).json()
    queues = schema["paths"]["/api/v1/reports/queues/"]["get"]
    assert "answered within the queue's service-level seconds" in queues["description"]
    for path in ("agents", "intervals", "staffing", "staffing/queue", "daily-summaries"):
        assert f"/api/v1/reports/{path}/" in schema["paths"]
