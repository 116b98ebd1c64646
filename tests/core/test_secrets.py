"""Secrets and the API key out of everything a run keeps or sends: the pixels of every screenshot
stored or sent, and texts that echo them (an endpoint that repeats the Authorization header)."""

import base64
import io
import json

import cv2
import numpy as np
from PIL import Image, ImageSequence

from agent.core.ocr import OCR
from agent.core.screen import Frame, Screen
from agent.export import export
from tests.support import real_apps
from tests.support.endpoint import ScriptedEndpoint
from tests.support.scenarios import Script, gui_agent

SECRET = "Hunter2Secret"  # invented; typed into the form's plain (unmasked) Name field


def read_text(png: bytes) -> str:
    pixels = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    return " ".join(line.text for line in OCR().read(cv2.cvtColor(pixels, cv2.COLOR_BGR2BGRA), full=True))


def gif_frames(path) -> list[bytes]:
    frames = []
    with Image.open(path) as gif:
        for frame in ImageSequence.Iterator(gif):
            buffer = io.BytesIO()
            frame.convert("RGB").save(buffer, "PNG")
            frames.append(buffer.getvalue())
    return frames


def sent_images(requests) -> list[bytes]:
    return [base64.b64decode(part["image_url"]["url"].split(",", 1)[1]) for request in requests
            for message in request["messages"] if isinstance(message["content"], list)
            for part in message["content"] if part["type"] == "image_url"]


def test_a_typed_secret_is_covered_in_every_screenshot_kept_or_sent(x_session, tmp_path):
    app = x_session.launch("form", geometry="700x560+40+30")
    app.wait_ready()
    script = Script(app)
    replies = [script.pointer("left_click", "name_entry", "Focus the name."), "type(content='{{PASSWORD}}')",
               script.pointer("left_click", "email_entry", "Now the email."), "DONE()"]
    with ScriptedEndpoint(replies) as endpoint:
        result = gui_agent("run", "log in with {{PASSWORD}}", "--base-url", endpoint.url, "--display",
                           x_session.display, "--secret", f"PASSWORD={SECRET}", "--out", str(tmp_path / "run"),
                           env=x_session.env)
    assert result.returncode == 0, result.stdout
    assert app.record()["state"]["name"] == SECRET  # typed for real, in a field that shows it
    assert gui_agent("report", str(tmp_path / "run"), "--gif", env=x_session.env).returncode == 0
    images = [path.read_bytes() for path in sorted((tmp_path / "run").glob("step-*.png"))]
    images += sent_images(endpoint.requests) + gif_frames(tmp_path / "run" / "replay.gif")
    assert len(images) >= 6
    texts = [read_text(png) for png in images]
    assert all("hunter" not in text.lower() for text in texts), texts
    print(f"secret read by OCR in {sum('hunter' in text.lower() for text in texts)} of {len(texts)} images "
          "kept or sent")
    assert any("Email" in text for text in texts[2:])  # the rest of the form is still there to see
    sent = ["".join(part.get("text", "<image>") for part in request["messages"][0]["content"])
            for request in endpoint.requests]
    assert all("(secrets given: {{PASSWORD}})." in text and "hunter" not in text.lower() for text in sent)
    assert export([tmp_path / "run"], tmp_path / "train.jsonl", check=True).samples == len(sent)
    exported = [json.loads(line) for line in (tmp_path / "train.jsonl").read_text().splitlines()]
    assert [sample["messages"][0]["content"] for sample in exported] == sent  # rebuilt as it was sent


def test_a_task_naming_a_secret_that_is_not_given_is_refused_before_anything_is_done(x_session, tmp_path):
    with ScriptedEndpoint([]) as endpoint:
        result = gui_agent("run", "log in with {{PASSWORD}}", "--base-url", endpoint.url, "--display",
                           x_session.display, "--out", str(tmp_path / "run"), env=x_session.env)
    assert result.returncode == 1 and endpoint.requests == []
    assert result.stdout.strip() == ("error: the task uses {{PASSWORD}} but no secret PASSWORD is given; "
                                     "pass --secret PASSWORD=VALUE or set GUI_AGENT_SECRET_PASSWORD")


def test_an_endpoint_that_echoes_the_key_does_not_put_it_on_disk_or_the_console(x_session, tmp_path):
    key, url_password = "sk-echoed-0123456789abcdef", "url-pass-98765"

    def echo(request):  # invented: a proxy that quotes the request's headers in its error
        return {"status": 400, "body": {"error": {"message": f"bad request; Authorization: Bearer {key}; "
                                                             f"upstream http://agent:{url_password}@gpu-box/v1"}}}

    with ScriptedEndpoint([echo]) as endpoint:
        base_url = endpoint.url.replace("http://", f"http://agent:{url_password}@")
        result = gui_agent("run", "press ok", "--base-url", base_url, "--api-key", key, "--display",
                           x_session.display, "--out", str(tmp_path / "run"), env=x_session.env)
    assert result.returncode == 13, result.stdout
    assert len(endpoint.requests) == 1  # a 400 is not retried
    written = [path.read_bytes() for path in (tmp_path / "run").rglob("*") if path.is_file()]
    for secret in (key, url_password):
        assert secret not in result.stdout + result.stderr
        assert not any(secret.encode() in data for data in written)
    assert "[hidden]" in (tmp_path / "run" / "episode.jsonl").read_text()
    found = sum(data.count(secret.encode()) for secret in (key, url_password)
                for data in [*written, (result.stdout + result.stderr).encode()])
    print(f"key and URL password occurrences in {len(written)} files and the console: {found}")


def test_a_username_stays_readable_while_the_password_field_is_covered_in_a_gtk_dialog(x_session, tmp_path):
    """zenity's login dialog: the username's focus ring is still fading as the password is typed."""
    real_apps.start(x_session, ["zenity", "--password", "--username", "--title", "Log in"], "Log in")
    replies = ["type(content='ada.lovelace')", "key(keys='tab')", "type(content='{{PW}}')", "DONE()"]
    with ScriptedEndpoint(replies) as endpoint:
        result = gui_agent("run", "log in as ada.lovelace with {{PW}}", "--base-url", endpoint.url, "--display",
                           x_session.display, "--secret", f"PW={SECRET}", "--out", str(tmp_path / "run"),
                           env=x_session.env)
    assert result.returncode == 0, result.stdout
    after_password = Frame.from_png((tmp_path / "run" / "step-004.png").read_bytes()).pixels
    shown = read_text(cv2.imencode(".png", after_password)[1].tobytes())
    assert "ada.lovelace" in shown.replace(" ", ""), shown  # the username's field is not covered
    covers = cv2.findNonZero((after_password[:, :, :3] == 64).all(axis=2).astype(np.uint8))
    assert covers is not None  # the password field's dots are covered
    x, y, w, h = cv2.boundingRect(covers)
    print(f"covered {w}x{h} at ({x},{y}); read: {shown}")


def test_a_secret_echoed_by_a_terminal_is_covered_and_the_rest_of_the_terminal_stays_readable(x_session, tmp_path,
                                                                                            monkeypatch):
    """xterm: the secret typed at `read -s` (nothing shows), then printed by `echo` in the terminal's font."""
    real_apps.start(x_session, ["xterm", "-T", "xterm", "-geometry", "80x12+20+20", "-e", "bash", "--norc",
                                "--noprofile"], "xterm")
    replies = ["type(content='read -s PW')", "key(keys='enter')", "type(content='{{PW}}')", "key(keys='enter')",
               "type(content='echo \"it is $PW\"')", "key(keys='enter')", "type(content='echo all is well')",
               "key(keys='enter')", "DONE()"]
    with ScriptedEndpoint(replies) as endpoint:
        result = gui_agent("run", "print {{PW}} in the terminal", "--base-url", endpoint.url, "--display",
                           x_session.display, "--secret", f"PW={SECRET}", "--out", str(tmp_path / "run"),
                           env=x_session.env)
    assert result.returncode == 0, result.stdout
    monkeypatch.setenv("XAUTHORITY", x_session.env["XAUTHORITY"])
    live = read_text(Screen(x_session.display).capture().png())  # the terminal as it is, nothing covered
    texts = [read_text(path.read_bytes()) for path in sorted((tmp_path / "run").glob("step-*.png"))]
    print(f"the terminal read live: {live!r}; the last step stored: {texts[-1]!r}")
    assert "hunter2secret" in live.lower().replace(" ", "")  # OCR reads the echo where nothing covers it
    assert all("hunter" not in text.lower() for text in texts), texts
    assert "all is well" in texts[-1] and "read" in texts[-1] and "echo" in texts[-1]  # the rest stays readable
