"""Ways a TwiML run stops early."""


class ApplicationError(Exception):
    """What Twilio reports as "an application error has occurred": the call ends."""


class LeftQueue(Exception):
    """<Leave> ran in a waitUrl document."""
