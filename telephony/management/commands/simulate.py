"""`python manage.py simulate`: simulated callers ring our number; prints what really happened."""

from __future__ import annotations

import asyncio
from collections import Counter

from django.core.management.base import BaseCommand, CommandError, CommandParser

from telephony.simulator import Simulator, SimulatorConfig
from telephony.simulator.from_settings import config_from_settings


class Command(BaseCommand):
    help = (
        "Play Twilio against our server: Poisson callers to one number for a while, agents' "
        "softphones and customers answering, signed webhooks; deterministic for a seed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--calls-per-minute", type=float, required=True)
        parser.add_argument(
            "--duration", type=float, required=True, help="simulated seconds of arrivals"
        )
        parser.add_argument("--seed", type=int, required=True)
        parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per second")
        parser.add_argument("--base-url", help="our server (default: TWILIO_WEBHOOK_BASE_URL)")
        parser.add_argument("--number", help="E.164 number to call (default: the first one)")
        parser.add_argument("--rest-port", type=int, help="port of the simulated REST API")
        parser.add_argument("--report", help="write the ground truth as JSON to this file")

    def handle(self, *args, **options) -> None:
        config = self._config(options)
        truth = asyncio.run(self._simulate(config, options))
        self._summarise(truth)
        if options["report"]:
            self.stdout.write(f"ground truth written to {options['report']}")

    def _config(self, options: dict) -> SimulatorConfig:
        try:
            return config_from_settings(
                number=options["number"] or self._first_number(),
                base_url=options["base_url"],
                rest_port=options["rest_port"],
                seed=options["seed"],
                speed=options["speed"],
            )
        except ValueError as error:
            raise CommandError(str(error)) from error

    @staticmethod
    def _first_number() -> str:
        # The one place telephony reads our domain, and only for this command's default.
        from callcenter.models import PhoneNumber

        number = PhoneNumber.objects.order_by("pk").values_list("e164", flat=True).first()
        if number is None:
            raise CommandError("no PhoneNumber in the database: give --number")
        return number

    async def _simulate(self, config: SimulatorConfig, options: dict) -> dict:
        async with Simulator(config) as simulator:
            self.stdout.write(f"simulated Twilio REST API at {simulator.rest_base_url}")
            truth = await simulator.run_traffic(
                calls_per_minute=options["calls_per_minute"], duration=options["duration"]
            )
            if options["report"]:
                simulator.write_report(options["report"])
            return truth

    def _summarise(self, truth: dict) -> None:
        outcomes = Counter(truth["outcomes"])
        self.stdout.write(f"calls: {sum(outcomes.values())}")
        for outcome, count in sorted(outcomes.items()):
            self.stdout.write(f"  {outcome}: {count}")
        self.stdout.write(f"webhooks: {truth['webhook_count']}")
        self.stdout.write(f"non-2xx webhooks: {truth['non_2xx_count']}")
        if truth["server_error_count"]:
            self.stdout.write(self.style.ERROR(f"5xx webhooks: {truth['server_error_count']}"))
        if truth["errors"]:
            self.stdout.write(self.style.WARNING(f"application errors: {len(truth['errors'])}"))
