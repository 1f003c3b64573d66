"""TwiML documents, built with the SDK's VoiceResponse (never by hand).

Plain functions of texts and URLs: the webhooks decide what a caller hears, these decide how
Twilio is told.
"""

from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

# Spoken at most this long between hold-music plays in a queue; the waitUrl is re-requested
# after each document, so announcements repeat on that rhythm.
MENU_TIMEOUT_SECONDS = 5


def _say(response: VoiceResponse | Gather, text: str) -> None:
    if text:
        response.say(text)


def hangup(text: str = "") -> str:
    response = VoiceResponse()
    _say(response, text)
    response.hangup()
    return str(response)


def menu(
    *, greeting: str, prompt: str, action_url: str, timeout: int = MENU_TIMEOUT_SECONDS
) -> str:
    """Greeting, then one DTMF digit; the action is requested even on no input."""
    response = VoiceResponse()
    _say(response, greeting)
    gather = Gather(
        input="dtmf",
        num_digits=1,
        timeout=timeout,
        action=action_url,
        method="POST",
        action_on_empty_result=True,
    )
    gather.say(prompt)
    response.append(gather)
    return str(response)


def enqueue(*, queue_name: str, action_url: str, wait_url: str, greeting: str = "") -> str:
    response = VoiceResponse()
    _say(response, greeting)
    response.enqueue(
        queue_name, action=action_url, method="POST", wait_url=wait_url, wait_url_method="POST"
    )
    return str(response)


def wait(
    *,
    announcement: str,
    hold_music_url: str,
    callback_url: str = "",
    callback_prompt: str = "",
    pause_seconds: int = 10,
) -> str:
    """What a waiting caller hears until the next waitUrl request: the announcement, an
    optional one-key callback offer, then hold music (or silence)."""
    response = VoiceResponse()
    _say(response, announcement)
    if callback_url:
        gather = Gather(input="dtmf", num_digits=1, timeout=1, action=callback_url, method="POST")
        gather.say(callback_prompt)
        response.append(gather)
    if hold_music_url:
        response.play(hold_music_url)
    else:
        response.pause(length=pause_seconds)
    return str(response)


def leave() -> str:
    response = VoiceResponse()
    response.leave()
    return str(response)


def voicemail(
    *, prompt: str, action_url: str, recording_status_url: str, max_length: int = 120
) -> str:
    response = VoiceResponse()
    _say(response, prompt)
    response.record(
        action=action_url,
        method="POST",
        max_length=max_length,
        play_beep=True,
        timeout=5,
        finish_on_key="#",
        recording_status_callback=recording_status_url,
        recording_status_callback_method="POST",
        recording_status_callback_event="completed",
    )
    response.say("We did not receive a message. Goodbye.")
    response.hangup()
    return str(response)


def join_conference(
    *,
    name: str,
    status_callback_url: str,
    end_on_exit: bool,
    label: str = "",
    muted: bool = False,
    coach_call_sid: str = "",
    wait_url: str = "",
    action_url: str = "",
) -> str:
    """Put this leg into the conference called `name` (one per customer call)."""
    response = VoiceResponse()
    dial = Dial(action=action_url or None, method="POST" if action_url else None)
    dial.conference(
        name,
        start_conference_on_enter=True,
        end_conference_on_exit=end_on_exit,
        beep=False,
        muted=muted or None,
        coach=coach_call_sid or None,
        wait_url=wait_url or None,
        participant_label=label or None,
        status_callback=status_callback_url,
        status_callback_method="POST",
        status_callback_event="start end join leave hold modify",
    )
    response.append(dial)
    return str(response)


def hold(text: str, *, seconds: int) -> str:
    """Keep a leg on the line for up to `seconds` (until it is redirected elsewhere)."""
    response = VoiceResponse()
    _say(response, text)
    response.pause(length=seconds)
    return str(response)


def empty() -> str:
    return str(VoiceResponse())
