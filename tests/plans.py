"""Which indexes PostgreSQL's plan for a query uses (EXPLAIN tests).

The test tables are small, so the planner is steered the deterministic way: sequential scans
and explicit sorts are priced out, which leaves the indexes that both apply to the WHERE clause
and deliver the ORDER BY; a test then checks that the one chosen is the named index.
"""

import json

from django.db import connection, transaction


def plan_indexes(queryset) -> set[str]:
    with transaction.atomic(), connection.cursor() as cursor:
        for setting in ("enable_seqscan", "enable_sort"):
            cursor.execute(f"SET LOCAL {setting} = off")
        cursor.execute("ANALYZE callcenter_agent")
        cursor.execute("ANALYZE callcenter_call")
        plan = json.loads(queryset.explain(format="json"))
    found: set[str] = set()

    def walk(node):
        found.update([node["Index Name"]] if "Index Name" in node else [])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return found
