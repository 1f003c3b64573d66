"""How Twilio addresses agents: softphone client addresses and conference labels."""

CLIENT_PREFIX = "client:"
AGENT_LABEL_PREFIX = "agent:"


def client_address(identity: str) -> str:
    return CLIENT_PREFIX + identity


def agent_participant_label(identity: str) -> str:
    """The conference label of an agent's leg: names the agent in conference callbacks."""
    return AGENT_LABEL_PREFIX + identity
