"""CLI: `python -m bench.datagen --agents 100000 --queues 200 --calls 1000000` (+ --seed,
--days, --waiting) into the database of `settings.local` (or DJANGO_SETTINGS_MODULE)."""

from __future__ import annotations

import argparse
import json
import os

from bench import datagen


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.datagen", description=datagen.__doc__.splitlines()[0]
    )
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--queues", type=int, default=20)
    parser.add_argument("--calls", type=int, default=10000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--waiting", type=int, default=None, help="live waiting callers")
    args = parser.parse_args(argv)

    import django
    from django.conf import settings

    if not settings.configured:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.local")
    django.setup()
    from django.db import connection

    result = datagen.generate(
        connection,
        agents=args.agents,
        queues=args.queues,
        calls=args.calls,
        seed=args.seed,
        days=args.days,
        waiting=args.waiting,
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
