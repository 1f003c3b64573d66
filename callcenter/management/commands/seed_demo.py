"""Create (or refresh) the demo call center: idempotent, safe to run on every start."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from callcenter.models import Agent, Menu, MenuOption, PhoneNumber, Queue, QueueMembership
from callcenter.roles import Role
from callcenter.services import agents_reset_daily_counters

DEMO_PASSWORD = "switchboard-demo"  # noqa: S105 - the embedded demo's published password

QUEUES = [
    {
        "name": "Sales",
        "twilio_queue_name": "sales",
        "priority": 1,
        "time_zone": "America/New_York",
        "business_hours": {},
    },
    {
        "name": "Support",
        "twilio_queue_name": "support",
        "priority": 0,
        "time_zone": "Europe/London",
        "business_hours": {},
    },
    {
        "name": "Billing",
        "twilio_queue_name": "billing",
        "priority": 0,
        "time_zone": "UTC",
        "business_hours": {d: [["08:00", "20:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    },
]
# username, first name, last name, queues with tier levels
AGENTS = [
    ("alice", "Alice", "Adams", {"Sales": 1, "Support": 2}),
    ("bob", "Bob", "Brown", {"Sales": 1}),
    ("carol", "Carol", "Chen", {"Support": 1, "Billing": 1}),
    ("dave", "Dave", "Diaz", {"Support": 1}),
    ("erin", "Erin", "Evans", {"Billing": 1, "Sales": 2}),
]


class Command(BaseCommand):
    help = "Create the demo supervisor, admin, agents, queues, menu and phone number."

    def add_arguments(self, parser):
        parser.add_argument("--password", default=DEMO_PASSWORD)

    @transaction.atomic
    def handle(self, *args, password: str, **options):
        queues = {
            spec["name"]: Queue.objects.update_or_create(name=spec["name"], defaults=spec)[0]
            for spec in QUEUES
        }
        admin = self._user("admin", "Ada", "Admin", Role.ADMIN, password, staff=True)
        supervisor = self._user("supervisor", "Sam", "Supervisor", Role.SUPERVISOR, password)
        for queue in queues.values():
            queue.supervisors.add(supervisor)
        # A softphone to listen in with; in no queue, so routing never offers them a call.
        Agent.objects.get_or_create(user=supervisor)
        for username, first, last, memberships in AGENTS:
            user = self._user(username, first, last, Role.AGENT, password)
            agent, _ = Agent.objects.get_or_create(user=user)
            for queue_name, level in memberships.items():
                QueueMembership.objects.update_or_create(
                    agent=agent, queue=queues[queue_name], defaults={"level": level}
                )
        agents_reset_daily_counters()

        menu, _ = Menu.objects.update_or_create(
            name="Main menu",
            defaults={
                "prompt": "For sales press 1. For support press 2. For billing press 3.",
                "fallback_queue": queues["Support"],
            },
        )
        for digit, name in (("1", "Sales"), ("2", "Support"), ("3", "Billing")):
            MenuOption.objects.update_or_create(
                menu=menu, digit=digit, defaults={"label": name, "queue": queues[name]}
            )
        PhoneNumber.objects.update_or_create(
            e164="+15005550006",
            defaults={
                "friendly_name": "Demo main line",
                "greeting": "Thank you for calling Switchboard.",
                "menu": menu,
                "default_queue": None,
            },
        )

        self.stdout.write("Demo call center ready. Sign in with:")
        self.stdout.write(f"  admin       {admin.username} / {password}   (Django admin, all data)")
        self.stdout.write(f"  supervisor  {supervisor.username} / {password}")
        for username, *_ in AGENTS:
            self.stdout.write(f"  agent       {username} / {password}")

    def _user(self, username, first, last, role, password, *, staff=False):
        user, _ = get_user_model().objects.get_or_create(username=username)
        user.first_name, user.last_name = first, last
        user.email = f"{username}@example.com"
        user.is_staff = staff
        user.is_superuser = staff and role == Role.ADMIN
        user.set_password(password)
        user.save()
        user.groups.add(Group.objects.get_or_create(name=role)[0])
        return user
