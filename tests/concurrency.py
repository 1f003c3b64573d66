"""Concurrent routers for the claim's race tests: threads released together at a barrier,
each claiming until no pair can be made, each with its own database connection."""

import threading

from django.db import connection

from routing.services import routing_claim_next


def run_routers(routers: int, *, timeout: float = 60) -> tuple[list[int], list[Exception]]:
    """The reservations the routers made (ids) and the errors they raised."""
    barrier, claims, errors = threading.Barrier(routers), [], []

    def router():
        try:
            barrier.wait()
            while (reservation := routing_claim_next()) is not None:
                claims.append(reservation.pk)
        except Exception as exc:  # pragma: no cover - reported by the callers' assertions
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=router) for _ in range(routers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return claims, errors
