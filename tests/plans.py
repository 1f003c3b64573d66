"""Which indexes PostgreSQL's plan for a query uses (EXPLAIN tests).

The test tables are small, so the planner is steered the deterministic way: sequential scans
and explicit sorts are priced out, which leaves the indexes that both apply to the WHERE clause
and deliver the ORDER BY; a test then checks that the one chosen is the named index.
"""

import json

from django.db import connection, transaction


def plan_indexes(queryset) -> set[str]:
    return sql_plan_indexes(queryset)


def sql_plan_indexes(query, tables=("callcenter_agent", "callcenter_call")) -> set[str]:
    """The indexes of the plan of `query`: a queryset, or SQL text (EXPLAIN only)."""
    with transaction.atomic(), connection.cursor() as cursor:
        for setting in ("enable_seqscan", "enable_sort"):
            cursor.execute(f"SET LOCAL {setting} = off")
        for table in tables:
            cursor.execute(f"ANALYZE {table}")
        if isinstance(query, str):
            cursor.execute(f"EXPLAIN (FORMAT JSON) {query}")
            plan = cursor.fetchone()[0]
        else:
            plan = query.explain(format="json")
    plan = json.loads(plan) if isinstance(plan, str) else plan
    found: set[str] = set()

    def walk(node):
        found.update([node["Index Name"]] if "Index Name" in node else [])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return found
