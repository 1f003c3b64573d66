"""Delete expired call invitations older than N days (the beat runs this daily too)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from messaging.services import invitations_cleanup


class Command(BaseCommand):
    help = "Mark overdue invitations expired, then delete expired ones older than --days."

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=settings.MESSAGING_INVITATION_RETENTION_DAYS,
            help="Keep this many days (default: MESSAGING_INVITATION_RETENTION_DAYS).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Only count them.")

    def handle(self, *args, days: int, dry_run: bool, **options):
        if days < 0:
            raise CommandError("--days must be 0 or more.")
        count = invitations_cleanup(days=days, dry_run=dry_run)
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(f"{verb} {count} expired invitation(s) older than {days} day(s).")
