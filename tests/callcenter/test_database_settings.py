"""PostgreSQL connections are configured with analytics' working memory (DATABASE_WORK_MEM),
options given in DATABASE_URL kept and winning; SQLite, embedded or named by DATABASE_URL,
gets none, and begins its transactions IMMEDIATE, waiting for the write lock."""

import pytest
from django.db import connection

from settings.base import database_config


def test_postgresql_connections_get_the_work_mem_and_keep_url_options():
    url = "postgres://u@db:5432/switchboard?options=-c%20statement_timeout%3D5000"
    options = database_config(url, pool=False)["OPTIONS"]["options"]
    assert options == "-c work_mem=32MB -c statement_timeout=5000"
    assert "-c work_mem" in database_config("postgres://u@db/x", pool=True)["OPTIONS"]["options"]


@pytest.mark.parametrize("url", ["", "sqlite:////srv/switchboard/db.sqlite3"])
def test_sqlite_waits_for_the_write_lock_and_gets_no_postgresql_options(url):
    config = database_config(url, pool=True)
    assert config["OPTIONS"] == {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    if url:
        assert config["NAME"] == "/srv/switchboard/db.sqlite3"
    assert config["TEST"]["NAME"] == config["NAME"] + ".test"  # a file: writers wait


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_test_database_runs_with_it():
    with connection.cursor() as cursor:
        cursor.execute("SHOW work_mem")
        assert cursor.fetchone()[0] == "32MB"
