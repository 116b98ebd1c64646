"""Secrets out of every text the agent writes or prints: the API key, --secret values, the password
in a base URL. They are registered once, when the run starts; `scrub` then replaces each of them
wherever it appears (an error body that echoes the Authorization header, say) before the text is
written to an episode or shown on the console."""

from urllib.parse import unquote, urlsplit

HIDDEN = "[hidden]"
MIN_LENGTH = 4  # shorter values would hide every such run of letters in ordinary text
_secrets: list[str] = []  # longest first, so "key-123" is hidden before "key"


def register(*values: str | None) -> None:
    """Keeps these values out of everything scrubbed from now on (those shorter than MIN_LENGTH are
    too common to hide everywhere)."""
    for value in values:
        if value and len(value) >= MIN_LENGTH:
            _secrets.extend({value, unquote(value)} - set(_secrets))
    _secrets.sort(key=len, reverse=True)


def register_url(url: str | None) -> None:
    """The password in a URL such as http://user:KEY@host/v1."""
    if url:
        try:
            register(urlsplit(url).password)
        except ValueError:
            pass


def scrub(value):
    """`value` with every registered secret replaced by [hidden]: text, or the texts inside dicts and lists."""
    if not _secrets:
        return value
    if isinstance(value, str):
        for secret in _secrets:
            value = value.replace(secret, HIDDEN)
        return value
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    return value
