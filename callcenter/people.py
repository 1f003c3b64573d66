"""How a person is named to others: in frames, audit trails and chat."""


def person_data(user) -> dict:
    """`{"id", "name"}`: the full name, else the username."""
    return {"id": user.pk, "name": user.get_full_name() or user.get_username()}
