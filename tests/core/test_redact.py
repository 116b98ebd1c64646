"""Registered secrets never reach a text the agent writes or prints."""

from agent.core import redact
from agent.core.console import console, show_error


def test_the_key_the_secrets_and_a_url_password_are_hidden_wherever_they_appear(monkeypatch):
    monkeypatch.setattr(redact, "_secrets", [])
    redact.register("sk-live-0123456789", "pässwörd", None, "")
    redact.register_url("http://agent:url%2Fpass@gpu-box:8000/v1")
    echoed = {"error": "HTTP 400: bad header 'Authorization: Bearer sk-live-0123456789'",
              "settings": {"base_url": "http://agent:url%2Fpass@gpu-box:8000/v1"},
              "typed": ["pässwörd", ("url/pass",)], "steps": 3}
    assert redact.scrub(echoed) == {"error": "HTTP 400: bad header 'Authorization: Bearer [hidden]'",
                                    "settings": {"base_url": "http://agent:[hidden]@gpu-box:8000/v1"},
                                    "typed": ["[hidden]", ["[hidden]"]], "steps": 3}
    with console.capture() as captured:
        show_error("endpoint said: sk-live-0123456789")
    assert "sk-live" not in captured.get() and "[hidden]" in captured.get()


def test_nothing_is_changed_when_nothing_is_registered(monkeypatch):
    monkeypatch.setattr(redact, "_secrets", [])
    assert redact.scrub({"a": ["b", 1]}) == {"a": ["b", 1]}
