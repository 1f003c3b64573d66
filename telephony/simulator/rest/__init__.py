"""The subset of Twilio's REST API (2010-04-01) that our gateway uses, and the simulator's own
`/Simulator/Devices` API for interactive softphones (rest/devices.py)."""

from aiohttp import web

from telephony.simulator.exchange import Exchange
from telephony.simulator.rest import calls, conferences, devices, queues
from telephony.simulator.rest.common import EXCHANGE, auth_middleware, errors_middleware
from telephony.simulator.rest.faults import FaultInjector


def build_rest_app(exchange: Exchange, faults: FaultInjector) -> web.Application:
    app = web.Application(middlewares=[errors_middleware, faults.middleware, auth_middleware])
    app[EXCHANGE] = exchange
    app.add_routes(calls.routes)
    app.add_routes(conferences.routes)
    app.add_routes(queues.routes)
    app.add_routes(devices.routes)
    return app


__all__ = ["FaultInjector", "build_rest_app"]
