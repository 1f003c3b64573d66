from datetime import date

from django.core.management.base import BaseCommand, CommandError

from analytics.services import rollup_recompute


class Command(BaseCommand):
    help = "Recompute analytics facts and rollups of a range of UTC days (both included)."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="begin", required=True, help="YYYY-MM-DD")
        parser.add_argument("--to", dest="end", required=True, help="YYYY-MM-DD (included)")

    def handle(self, *args, begin: str, end: str, **options):
        try:
            first, last = date.fromisoformat(begin), date.fromisoformat(end)
        except ValueError as exc:
            raise CommandError(f"Dates are YYYY-MM-DD: {exc}") from exc
        if last < first:
            raise CommandError("--to is before --from.")
        result = rollup_recompute(begin=first, end=last)
        self.stdout.write(", ".join(f"{k}: {v}" for k, v in result.items()))
