"""An agent's browser page as their softphone, in simulated mode only.

The simulator rings `client:<identity>`; while the identity is registered here as an
interactive device it waits for `device_answer` / `device_reject` (or the ring timeout) instead
of its scripted reaction. These call the simulator's own `/Simulator/Devices` API (not
Twilio's) at TWILIO_API_BASE_URL with the same credentials as the gateway.
"""

from dataclasses import dataclass
from urllib.parse import quote

import requests
from django.conf import settings

DEFAULT_TTL_SECONDS = 60


class SimulatedDeviceError(Exception):
    """Base class; `message` is fit to show the agent."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotSimulated(SimulatedDeviceError):
    """TELEPHONY_MODE is not `simulated`: softphones are real Twilio clients."""


class NoRingingCall(SimulatedDeviceError):
    """No call is ringing the identity and waiting for a decision."""


class NoConnectedCall(SimulatedDeviceError):
    """No answered call is up on the identity."""


class SimulatorUnavailable(SimulatedDeviceError):
    """The simulator could not be reached or answered unexpectedly."""


@dataclass(frozen=True)
class DeviceRegistration:
    identity: str
    interactive: bool
    expires_in: float


@dataclass(frozen=True)
class DeviceCall:
    sid: str
    status: str
    from_number: str
    parent_call_sid: str | None
    conference_name: str | None
    awaiting_decision: bool


def _credentials() -> tuple[str, str]:
    if settings.TWILIO_API_KEY:
        return settings.TWILIO_API_KEY, settings.TWILIO_API_SECRET
    return settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN


def _request(method: str, identity: str, action: str = "", data: dict | None = None):
    if settings.TELEPHONY_MODE != "simulated":
        raise NotSimulated("Simulated softphones exist only when TELEPHONY_MODE is 'simulated'.")
    base = settings.TWILIO_API_BASE_URL.rstrip("/")
    url = f"{base}/Simulator/Devices/{quote(identity, safe='')}"
    if action:
        url += f"/{action}"
    try:
        response = requests.request(
            method,
            url,
            data=data,
            auth=_credentials(),
            timeout=settings.TWILIO_HTTP_TIMEOUT_SECONDS,
        )
    except requests.RequestException as error:
        raise SimulatorUnavailable(
            f"The telephony simulator is unreachable ({type(error).__name__})."
        ) from error
    if response.status_code == 404 and action in ("Answer", "Reject"):
        raise NoRingingCall("No call is ringing your softphone.")
    if response.status_code == 404 and action == "Hangup":
        raise NoConnectedCall("No call is up on your softphone.")
    if response.status_code >= 400:
        raise SimulatorUnavailable(
            f"The telephony simulator answered {response.status_code} to {method} {action}."
        )
    return response.json() if response.content else None


def _call(body: dict) -> DeviceCall:
    return DeviceCall(
        sid=body["sid"],
        status=body["status"],
        from_number=body["from"],
        parent_call_sid=body.get("parent_call_sid"),
        conference_name=body.get("conference_name"),
        awaiting_decision=bool(body.get("awaiting_decision")),
    )


def _registration(body: dict) -> DeviceRegistration:
    return DeviceRegistration(body["identity"], body["interactive"], body["expires_in"])


def device_register(identity: str, *, ttl: int = DEFAULT_TTL_SECONDS) -> DeviceRegistration:
    """Ring `identity` as an interactive device for `ttl` seconds; register again to renew."""
    return _registration(_request("POST", identity, "Register", {"TTL": str(ttl)}))


def device_registration(identity: str) -> DeviceRegistration:
    """Whether rings to `identity` wait for a person now, and for how long more."""
    return _registration(_request("GET", identity))


def device_unregister(identity: str) -> None:
    """Back to the scripted softphone for the next rings."""
    _request("DELETE", identity)


def device_calls(identity: str) -> list[DeviceCall]:
    """Legs to the identity that are ringing or connected, oldest first."""
    return [_call(body) for body in _request("GET", identity, "Calls")["calls"]]


def device_answer(identity: str, *, call_sid: str | None = None) -> DeviceCall:
    """Answer the oldest ringing leg (or `call_sid`); it stays up until someone hangs it up."""
    return _call(_request("POST", identity, "Answer", {"CallSid": call_sid} if call_sid else {}))


def device_reject(identity: str, *, call_sid: str | None = None) -> DeviceCall:
    """Reject the oldest ringing leg (or `call_sid`): it ends `busy`."""
    return _call(_request("POST", identity, "Reject", {"CallSid": call_sid} if call_sid else {}))


def device_hang_up(identity: str, *, call_sid: str | None = None) -> DeviceCall:
    """Hang up the newest answered leg (or `call_sid`), as the person on the softphone."""
    return _call(_request("POST", identity, "Hangup", {"CallSid": call_sid} if call_sid else {}))
