"""Resource identifiers shaped like Twilio's: a two-letter prefix and 32 lowercase hex digits."""

import random


def make_sid(prefix: str, rng: random.Random) -> str:
    return f"{prefix}{rng.getrandbits(128):032x}"


def derived_rng(seed: int, *keys: object) -> random.Random:
    """An independent stream per call or party, so scheduling order never changes a script."""
    return random.Random("/".join([str(seed), *map(str, keys)]))


class SidFactory:
    def __init__(self, seed: int) -> None:
        self._rng = derived_rng(seed, "sids")

    def new(self, prefix: str, rng: random.Random | None = None) -> str:
        return make_sid(prefix, rng or self._rng)
