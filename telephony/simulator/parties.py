"""The people on the line, each scripted from its own random stream so a seed replays them."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import ClassVar

from telephony.simulator.config import AgentBehaviour, CallerBehaviour, CustomerBehaviour
from telephony.simulator.sids import derived_rng


@dataclass(frozen=True)
class RingReaction:
    result: str  # answered | no-answer | busy
    after: float


@dataclass(frozen=True)
class GatherInput:
    digits: str | None = None
    # Seconds after the prompts end; negative when the caller presses while they still play.
    after: float = 0.0
    asks_for_callback: bool = False
    hang_up_after: float | None = None  # seconds into the prompts


@dataclass(frozen=True)
class RecordInput:
    seconds: float
    ending: str  # hangup | key | silence


class Party:
    """Someone who never presses keys or leaves messages, and stays until hung up on."""

    role: ClassVar[str] = "party"
    patience_seconds: float | None = None
    talk_seconds: float | None = None

    def ring(self, timeout: float) -> RingReaction:
        return RingReaction("answered", 0.0)

    def gather(self, *, queued: bool, prompt_seconds: float) -> GatherInput:
        return GatherInput()

    def record(self) -> RecordInput | None:
        return None


def _lognormal(rng: random.Random, median: float, sigma: float = 0.5) -> float:
    return rng.lognormvariate(math.log(max(median, 0.01)), sigma)


@dataclass(kw_only=True)
class Caller(Party):
    """Someone calling one of our numbers."""

    from_number: str
    patience_seconds: float | None
    talk_seconds: float | None
    menu_answers: tuple[str | None, ...]
    menu_hangup_after: float | None
    callback_key: str | None
    reaction_seconds: float
    voicemail: RecordInput
    role: ClassVar[str] = "caller"
    _menus_heard: int = field(default=0, repr=False)
    _offers_heard: int = field(default=0, repr=False)

    @classmethod
    def draw(cls, rng: random.Random, behaviour: CallerBehaviour) -> Caller:
        from_number = f"+1555{rng.randrange(10**7):07d}"
        patience = rng.expovariate(1 / behaviour.patience_mean_seconds)
        hangs_up_in_menu = rng.random() < behaviour.menu_hangup_probability
        menu_hangup_after = rng.uniform(0.5, 4.0)
        answers = tuple(_menu_answer(rng, behaviour) for _ in range(4))
        wants_callback = rng.random() < behaviour.callback_probability
        reaction = rng.uniform(*behaviour.reaction_seconds)
        voicemail_seconds = rng.uniform(*behaviour.voicemail_seconds)
        hangs_up_after_message = rng.random() < behaviour.voicemail_hangup_probability
        talk = _lognormal(rng, behaviour.talk_median_seconds)
        return cls(
            from_number=from_number,
            patience_seconds=patience,
            talk_seconds=talk,
            menu_answers=answers,
            menu_hangup_after=menu_hangup_after if hangs_up_in_menu else None,
            callback_key=behaviour.callback_key if wants_callback else None,
            reaction_seconds=reaction,
            voicemail=RecordInput(voicemail_seconds, "hangup" if hangs_up_after_message else "key"),
        )

    def gather(self, *, queued: bool, prompt_seconds: float) -> GatherInput:
        if queued:
            self._offers_heard += 1
            if self.callback_key and self._offers_heard == 1:
                # The key is named as the offer starts: the caller presses before it ends.
                after = -prompt_seconds / 2
                return GatherInput(self.callback_key, after, asks_for_callback=True)
            return GatherInput()
        self._menus_heard += 1
        if self.menu_hangup_after is not None and self._menus_heard == 1:
            return GatherInput(hang_up_after=self.menu_hangup_after)
        index = self._menus_heard - 1
        digits = self.menu_answers[index] if index < len(self.menu_answers) else None
        return GatherInput(digits, after=self.reaction_seconds)

    def record(self) -> RecordInput:
        return self.voicemail


def _menu_answer(rng: random.Random, behaviour: CallerBehaviour) -> str | None:
    draw = rng.random()
    choice = rng.choice(behaviour.menu_digits) if behaviour.menu_digits else None
    if draw < behaviour.menu_valid_probability:
        return choice
    if draw < behaviour.menu_valid_probability + behaviour.menu_invalid_probability:
        return behaviour.invalid_digit
    return None


@dataclass(kw_only=True)
class AgentPhone(Party):
    """An agent's softphone, registered as `client:<identity>`."""

    identity: str
    registered: bool
    reaction: str  # answer | miss | reject
    answer_delay: float
    patience_seconds: float | None
    talk_seconds: float | None
    role: ClassVar[str] = "agent"

    @classmethod
    def draw(cls, rng: random.Random, identity: str, behaviour: AgentBehaviour) -> AgentPhone:
        draw = rng.random()
        if draw < behaviour.reject_probability:
            reaction = "reject"
        elif draw < behaviour.reject_probability + behaviour.miss_probability:
            reaction = "miss"
        else:
            reaction = "answer"
        delay = _lognormal(rng, behaviour.answer_delay_median_seconds)
        hangs_up = rng.random() < behaviour.hang_up_probability
        talk = _lognormal(rng, behaviour.talk_median_seconds)
        registered = behaviour.identities is None or identity in behaviour.identities
        return cls(
            identity=identity,
            registered=registered,
            reaction=reaction,
            answer_delay=delay,
            patience_seconds=behaviour.alone_patience_seconds,
            talk_seconds=talk if hangs_up else None,
        )

    def ring(self, timeout: float) -> RingReaction:
        if not self.registered or self.reaction == "miss" or self.answer_delay >= timeout:
            return RingReaction("no-answer", timeout)
        if self.reaction == "reject":
            return RingReaction("busy", min(self.answer_delay, timeout))
        return RingReaction("answered", self.answer_delay)


@dataclass(kw_only=True)
class CustomerPhone(Party):
    """A phone number we dial out to."""

    reaction: str  # answer | no-answer | busy
    answer_delay: float
    patience_seconds: float | None
    talk_seconds: float | None
    role: ClassVar[str] = "customer"

    @classmethod
    def draw(cls, rng: random.Random, behaviour: CustomerBehaviour) -> CustomerPhone:
        if rng.random() < behaviour.answer_probability:
            reaction = "answer"
        else:
            reaction = "busy" if rng.random() < behaviour.busy_probability else "no-answer"
        return cls(
            reaction=reaction,
            answer_delay=_lognormal(rng, behaviour.answer_delay_median_seconds),
            patience_seconds=behaviour.alone_patience_seconds,
            talk_seconds=_lognormal(rng, behaviour.talk_median_seconds),
        )

    def ring(self, timeout: float) -> RingReaction:
        if self.reaction == "busy":
            return RingReaction("busy", min(2.0, timeout))
        if self.reaction == "no-answer" or self.answer_delay >= timeout:
            return RingReaction("no-answer", timeout)
        return RingReaction("answered", self.answer_delay)


class PartyFactory:
    """Hands out the party at the far end of a new leg; the n-th leg to a target is replayable."""

    def __init__(self, seed: int, agents: AgentBehaviour, customers: CustomerBehaviour) -> None:
        self._seed = seed
        self._agents = agents
        self._customers = customers
        self._legs_to: dict[str, int] = {}

    def for_target(self, to: str) -> Party:
        count = self._legs_to.get(to, 0)
        self._legs_to[to] = count + 1
        rng = derived_rng(self._seed, "leg", to, count)
        if to.startswith("client:"):
            return AgentPhone.draw(rng, to.removeprefix("client:"), self._agents)
        return CustomerPhone.draw(rng, self._customers)
