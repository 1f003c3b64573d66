"""TwiML documents as the simulator reads them: parsed with the stdlib, never expanding entities."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin

from telephony.simulator.config import MediaTiming

# Twilio repeats "forever" for loop="0"; a thousand turns outlasts every simulated call.
FOREVER = 1000
MAIN_VERBS = frozenset(
    {"Say", "Play", "Pause", "Gather", "Redirect", "Hangup", "Reject", "Leave", "Record", "Dial"}
    | {"Enqueue"}
)
# What Twilio lets a waitUrl document do while the caller waits in a queue.
WAIT_VERBS = frozenset({"Say", "Play", "Pause", "Gather", "Redirect", "Leave", "Hangup"})
PROMPT_VERBS = frozenset({"Say", "Play", "Pause"})


class TwimlError(Exception):
    """The document is not TwiML the simulator (or Twilio) can execute: an application error."""


@dataclass(frozen=True)
class Verb:
    name: str
    attrs: Mapping[str, str] = field(default_factory=dict)
    # `text` is all the text inside (what <Say> speaks); `own_text` only the element's own
    # leading text (a bare number in <Dial>).
    text: str = ""
    own_text: str = ""
    children: tuple[Verb, ...] = ()

    def attr(self, name: str, default: str | None = None) -> str | None:
        value = self.attrs.get(name)
        return default if value is None or value == "" else value

    def flag(self, name: str, default: bool) -> bool:
        value = self.attrs.get(name)
        return default if value is None else value.strip().lower() == "true"

    def number(self, name: str, default: float) -> float:
        value = self.attrs.get(name)
        try:
            return float(value) if value not in (None, "") else default
        except ValueError as error:
            raise TwimlError(f"<{self.name} {name}={value!r}> is not a number") from error

    def method(self, name: str = "method", default: str = "POST") -> str:
        value = (self.attr(name) or default).upper()
        if value not in ("GET", "POST"):
            raise TwimlError(f"<{self.name} {name}={value!r}> must be GET or POST")
        return value


@dataclass(frozen=True)
class Document:
    """Verbs and the URL they came from: Twilio resolves relative URLs against it."""

    verbs: tuple[Verb, ...]
    url: str | None = None

    def resolve(self, url: str) -> str:
        return urljoin(self.url, url) if self.url else url


def parse_twiml(body: str, url: str | None = None) -> Document:
    head = body[:2048].upper()
    if "<!DOCTYPE" in head or "<!ENTITY" in body.upper():
        raise TwimlError("TwiML with a DOCTYPE or entity declarations is refused")
    try:
        root = ET.fromstring(body.strip())  # noqa: S314 - no DOCTYPE, so no entity expansion
    except ET.ParseError as error:
        raise TwimlError(f"document parse failure: {error}") from error
    if root.tag != "Response":
        raise TwimlError(f"the root element is <{root.tag}>, not <Response>")
    return Document(verbs=tuple(_verb(element) for element in root), url=url)


def _verb(element: ET.Element) -> Verb:
    return Verb(
        name=element.tag,
        attrs=dict(element.attrib),
        text="".join(element.itertext()).strip(),
        own_text=(element.text or "").strip(),
        children=tuple(_verb(child) for child in element),
    )


def loops(verb: Verb) -> int:
    count = int(verb.number("loop", 1))
    return FOREVER if count <= 0 else count


def audio_seconds(verb: Verb, timing: MediaTiming) -> float:
    """How long a caller hears Say/Play/Pause; other verbs take no audio time."""
    if verb.name == "Say":
        words = len(verb.text.split())
        return max(0.5, words / timing.words_per_second) * loops(verb)
    if verb.name == "Play":
        digits = verb.attr("digits")
        if digits:
            return 0.25 * len(digits)
        return timing.play_seconds * loops(verb)
    if verb.name == "Pause":
        return max(0.0, verb.number("length", 1))
    return 0.0
