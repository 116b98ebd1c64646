"""Safety and reliability on a real display: kills at random moments and resume, the stop keys,
confirmation with no one to ask, and secrets kept out of everything a run writes."""

import json
import os
import pty
import random
import select
import signal
import subprocess
import sys
import time

import pytest

from agent.core.episode import EPISODE_FILE, read_episode
from agent.core.executors import TYPE_CHUNK
from tests.support.endpoint import ScriptedEndpoint
from tests.support.real_apps import paced_as_a_calculator
from tests.support.scenarios import Script, gui_agent

API_KEY = "sk-loopback-key-0123456789"


def state_driven_model(script: Script):
    """Answers like a model that looks at the screen: the next action follows from the form's state,
    so a run killed anywhere can be resumed to the same end."""
    def reply(request):
        # some model latency, so kills land between and inside steps: the 5 replies take longer than the
        # test's latest kill (1.5 s), or a fast run could end before it
        time.sleep(0.35)
        record = script.app.record()
        state, events = record["state"], record["events"]
        if not state["subscribe"]:
            return script.pointer("left_click", "subscribe", "Tick Subscribe.")(request)
        if state["country"] != "Canada":
            return script.pointer("left_click", "country:Canada", "Choose Canada.")(request)
        if state["volume"] < 70:
            return script.drag("volume_handle", 150, "Turn the volume up.")(request)
        if not any(e["event"] == "submit" for e in events):
            return "Submit. key(keys='ctrl+Return')"
        return "DONE()"
    return reply


def assert_readable(out):
    lines = (out / EPISODE_FILE).read_text(encoding="utf-8").splitlines()
    complete = lines if (out / EPISODE_FILE).read_bytes().endswith(b"\n") else lines[:-1]
    for line in complete:
        json.loads(line)
    episode = read_episode(out)
    for step in episode.steps:
        assert (out / step["screenshot"]).is_file()
    return episode


def received_and_recorded(app, out) -> tuple[int, int]:
    """Pointer presses and submits the form received, and the clicks, drags and ctrl+Return the
    episode's act lines say were done or under way: every one received must be recorded."""
    time.sleep(0.5)  # events still on their way to the app
    events = app.record()["events"]
    received = sum(e["event"] == "click" and e["button"] in (1, 3) or e["event"] == "submit" for e in events)
    acts = []
    for line in (out / EPISODE_FILE).read_text(encoding="utf-8").splitlines():
        try:
            acts += [record for record in [json.loads(line)] if record["kind"] == "act"]
        except ValueError:  # the last line, torn by the kill
            pass
    recorded = sum(a["action"]["type"] in ("click", "drag", "key")  # key: only ctrl+Return, the submit
                   for a in acts)
    return received, recorded


@pytest.mark.parametrize("seed, signum", [(1, signal.SIGKILL), (2, signal.SIGKILL), (3, signal.SIGKILL),
                                          (4, signal.SIGTERM), (5, signal.SIGTERM)])
def test_a_run_killed_at_a_random_moment_stays_readable_and_resume_finishes_it(seed, signum, x_session, tmp_path):
    app = x_session.launch("form", geometry="700x560+40+30")
    app.wait_ready()
    script = Script(app)
    out = tmp_path / "run"
    with ScriptedEndpoint([state_driven_model(script)] * 40) as endpoint:
        process = subprocess.Popen([sys.executable, "-m", "agent", "run", "fill in the form", "--base-url",
                                    endpoint.url, "--api-key", API_KEY, "--display", x_session.display, "--out",
                                    str(out), "--no-snap", "--no-report"], env=x_session.env, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not (out / EPISODE_FILE).exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(random.Random(seed).uniform(0.0, 1.5))
        process.send_signal(signum)
        process.wait(timeout=30)  # a run that does not end on SIGTERM is a failure, not a hung suite
        episode = assert_readable(out)
        received, recorded = received_and_recorded(app, out)
        print(f"seed {seed}, {signal.Signals(signum).name} after {len(episode.steps)} steps: actions performed "
              f"{received} vs recorded {recorded} (must be equal, or one more recorded: under way at the kill)")
        assert received <= recorded <= received + 1
        if episode.end is None or episode.end["status"] != "done":
            result = gui_agent("resume", str(out), "--api-key", API_KEY, "--display", x_session.display,
                               env=x_session.env)
            assert result.returncode == 0, result.stdout + result.stderr
            assert "resuming" in result.stdout
    episode = assert_readable(out)
    assert episode.end["status"] == "done"
    assert [s["index"] for s in episode.steps] == list(range(1, len(episode.steps) + 1))
    submits = [e["values"] for e in app.record()["events"] if e["event"] == "submit"]
    assert submits and submits[-1]["subscribe"] is True and submits[-1]["country"] == "Canada"
    assert (out / "report.html").is_file()
    assert API_KEY.encode() not in b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    received, recorded = received_and_recorded(app, out)
    print(f"seed {seed} after resume: actions performed {received} vs recorded {recorded}")
    assert received <= recorded <= received + 1


def test_the_stop_keys_end_a_long_type_at_once(x_session, tmp_path):
    app = x_session.launch("form", geometry="700x560+40+30")
    app.wait_ready()
    script = Script(app)
    text = "x" * 3000
    replies = [script.pointer("left_click", "name_entry", "Focus."), f"type(content='{text}')", "DONE()"]
    with paced_as_a_calculator(x_session, "Demo Form"), ScriptedEndpoint(replies) as endpoint:
        process = subprocess.Popen([sys.executable, "-m", "agent", "run", "type", "--base-url", endpoint.url,
                                    "--display", x_session.display, "--out", str(tmp_path / "run")],
                                   env=x_session.env, stdout=subprocess.PIPE, text=True)
        app.wait_until(lambda r: len(r["state"]["name"]) > 5, 30, "typing to start")
        subprocess.run(["xdotool", "key", "ctrl+alt+shift+q"], env=x_session.env, check=True)
        assert process.wait(timeout=10) == 130
    episode = read_episode(tmp_path / "run")
    assert episode.end["status"] == "interrupted" and "stop keys" in episode.end["message"]
    cut = episode.steps[-1]
    assert (cut["call"], cut["outcome"], cut["cut"]) == (f"type(content='{text}')", "interrupted", "during")
    time.sleep(1.0)  # the keys sent reach the form; those sent while the chord's modifiers were down are
    received = len(app.record()["state"]["name"])  # shortcuts, not text, so the form may get fewer
    assert 0 < received <= cut["typed"] + TYPE_CHUNK and received < len(text)
    print(f"stop keys while typing: recorded at least {cut['typed']} characters typed, the form received {received}")


def test_a_headless_run_stops_at_an_action_to_confirm_and_goes_on_with_yes(x_session, tmp_path):
    app = x_session.launch("form", geometry="700x560+40+30")
    app.wait_ready()
    with ScriptedEndpoint(["Close it. key(keys='alt+F4')"]) as endpoint:
        result = gui_agent("run", "close the form", "--base-url", endpoint.url, "--display", x_session.display,
                           "--out", str(tmp_path / "a"), env=x_session.env)
    assert result.returncode == 17 and "needs_confirmation" in result.stdout and "--yes" in result.stdout
    assert app.process.poll() is None  # nothing was closed
    with ScriptedEndpoint(["Close it. key(keys='alt+F4')", "DONE()"]) as endpoint:
        result = gui_agent("run", "close the form", "--yes", "--base-url", endpoint.url,
                           "--display", x_session.display, "--out", str(tmp_path / "b"), env=x_session.env)
    assert result.returncode == 0, result.stdout
    app.process.wait(timeout=10)


def test_a_secret_is_typed_and_appears_in_no_file_the_run_writes(x_session, tmp_path):
    app = x_session.launch("form", geometry="700x560+40+30")
    app.wait_ready()
    script = Script(app)
    secret = "pä55-wörd-73519"
    replies = [script.pointer("left_click", "name_entry", "Focus."), "type(content='{{PASSWORD}}')", "DONE()"]
    with ScriptedEndpoint(replies) as endpoint:
        result = gui_agent("run", "type the password {{PASSWORD}}", "--base-url", endpoint.url, "--api-key", API_KEY,
                           "--secret", f"PASSWORD={secret}", "--display", x_session.display,
                           "--out", str(tmp_path / "run"), env=x_session.env)
    assert result.returncode == 0, result.stdout
    assert app.record()["state"]["name"] == secret and (tmp_path / "run" / "report.html").is_file()
    written = b"".join(p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file())
    for value in (secret, API_KEY):
        assert value.encode() not in written and value not in result.stdout + result.stderr
    assert secret not in json.dumps(endpoint.requests) and API_KEY not in json.dumps(endpoint.requests)


def read_until(fd: int, marker: bytes, output: bytes, timeout: float = 30) -> bytes:
    deadline = time.monotonic() + timeout
    while marker not in output:
        assert time.monotonic() < deadline, f"no {marker!r} on the terminal; it shows {output[-500:]!r}"
        if select.select([fd], [], [], 0.1)[0]:
            try:
                output += os.read(fd, 4096)
            except OSError:  # the other end closed: the run ended
                raise AssertionError(f"the run ended before {marker!r}; the terminal shows {output[-800:]!r}") from None
    return output


def test_ctrl_c_on_a_terminal_pauses_and_the_run_resumes_on_yes(x_session, tmp_path):
    app = x_session.launch("form", geometry="700x560+40+30")
    app.wait_ready()
    script = Script(app)
    replies = ["WAIT()", script.pointer("left_click", "subscribe", "Tick it."), "DONE()"]
    primary, secondary = pty.openpty()
    with ScriptedEndpoint(replies) as endpoint:
        process = subprocess.Popen([sys.executable, "-m", "agent", "run", "tick", "--base-url", endpoint.url,
                                    "--display", x_session.display, "--out", str(tmp_path / "run")],
                                   env=x_session.env | {"COLUMNS": "200"}, stdin=secondary, stdout=secondary,
                                   stderr=subprocess.DEVNULL)
        os.close(secondary)
        output = read_until(primary, b"step 1", b"")  # the first WAIT() is under way
        process.send_signal(signal.SIGINT)  # what Ctrl+C on the terminal sends
        read_until(primary, b"Resume the run?", output)
        os.write(primary, b"y\n")
        assert process.wait(timeout=30) == 0
    assert app.record()["state"]["subscribe"] is True
    assert read_episode(tmp_path / "run").end["status"] == "done"
    os.close(primary)


def test_moving_the_pointer_into_a_corner_stops_a_long_type(x_session, tmp_path):
    app = x_session.launch("form", geometry="700x560+40+30")
    app.wait_ready()
    script = Script(app)
    replies = [script.pointer("left_click", "name_entry", "Focus."), "type(content='" + "y" * 3000 + "')", "DONE()"]
    with paced_as_a_calculator(x_session, "Demo Form"), ScriptedEndpoint(replies) as endpoint:
        process = subprocess.Popen([sys.executable, "-m", "agent", "run", "type", "--base-url", endpoint.url,
                                    "--display", x_session.display, "--out", str(tmp_path / "run")],
                                   env=x_session.env, stdout=subprocess.DEVNULL)
        app.wait_until(lambda r: len(r["state"]["name"]) > 5, 30, "typing to start")
        subprocess.run(["xdotool", "mousemove", "0", "0"], env=x_session.env, check=True)
        assert process.wait(timeout=10) == 130
    episode = read_episode(tmp_path / "run")
    assert episode.end["status"] == "interrupted" and "corner" in episode.end["message"]
    assert len(app.record()["state"]["name"]) < 3000


def test_typing_a_risky_word_asks_in_a_terminal_but_not_in_a_form(x_session, tmp_path):
    """The focused window's class decides what a terminal is: xterm's 'XTerm' asks, Tk's form does not."""
    from sandbox.tasks import load_tasks, start

    start(load_tasks(["xterm_echo"])[0], x_session, tmp_path / "work")
    with ScriptedEndpoint(["Clean up. type(content='rm -f stale.txt')"]) as endpoint:
        result = gui_agent("run", "clean up", "--base-url", endpoint.url, "--display", x_session.display,
                           "--out", str(tmp_path / "terminal"), env=x_session.env)
    assert result.returncode == 17 and "typing 'rm' into a terminal" in result.stdout, result.stdout

    form = x_session.launch("form", geometry="700x560+40+30")
    form.wait_ready()
    script = Script(form)
    replies = [script.pointer("left_click", "name_entry", "Focus."), "type(content='rm')", "DONE()"]
    with ScriptedEndpoint(replies) as endpoint:
        result = gui_agent("run", "type rm", "--base-url", endpoint.url, "--display", x_session.display,
                           "--out", str(tmp_path / "form"), env=x_session.env)
    assert result.returncode == 0, result.stdout
    assert form.record()["state"]["name"] == "rm"


@pytest.mark.parametrize("held_before", [b"copied before the run", None])
def test_a_pasted_secret_is_not_left_on_the_clipboard(held_before, x_session, tmp_path):
    app = x_session.launch("form", geometry="700x560+40+30")
    app.wait_ready()
    if held_before is not None:
        subprocess.run(["xclip", "-selection", "clipboard"], input=held_before, env=x_session.env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    replies = [Script(app).pointer("left_click", "name_entry", "Focus."), "type(content='{{PASSWORD}}')", "DONE()"]
    with ScriptedEndpoint(replies) as endpoint:
        result = gui_agent("run", "log in", "--base-url", endpoint.url, "--display", x_session.display,
                           "--secret", "PASSWORD=pässwörd-42", "--out", str(tmp_path / "run"), env=x_session.env)
    assert result.returncode == 0, result.stdout
    assert app.record()["state"]["name"] == "pässwörd-42"  # pasted: it is not ASCII
    for selection in ("clipboard", "primary"):
        held = subprocess.run(["xclip", "-o", "-selection", selection], capture_output=True, env=x_session.env)
        assert "pässwörd".encode() not in held.stdout
    clipboard = subprocess.run(["xclip", "-o", "-selection", "clipboard"], capture_output=True, env=x_session.env)
    assert (clipboard.stdout if clipboard.returncode == 0 else None) == held_before


@pytest.mark.xvfb
def test_an_x_server_that_dies_mid_run_ends_it_on_one_line_with_a_readable_episode(tmp_path):
    from sandbox.session import XSession

    with XSession(1366, 768) as session:  # its own: this test kills it
        app = session.launch("form", geometry="700x560+40+30")
        app.wait_ready()
        replies = [Script(app).pointer("left_click", "name_entry", "Focus."), "type(content='" + "z" * 3000 + "')"]
        with paced_as_a_calculator(session, "Demo Form"), ScriptedEndpoint(replies) as endpoint:
            process = subprocess.Popen([sys.executable, "-m", "agent", "run", "type", "--base-url", endpoint.url,
                                        "--display", session.display, "--out", str(tmp_path / "run")],
                                       env=session.env | {"COLUMNS": "300"}, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True)
            app.wait_until(lambda r: len(r["state"]["name"]) > 5, 30, "typing to start")
            session._processes[0].kill()  # Xvfb
            out, err = process.communicate(timeout=30)
    assert process.returncode == 1, out + err
    assert "Traceback" not in out + err and "Error" not in err, err
    assert f"display {session.display}" in out
    episode = read_episode(tmp_path / "run")
    assert episode.end["status"] == "error" and session.display in episode.end["message"]
    typing = [episode.steps[-1], *episode.steps[-1].get("then", [])][-1]
    assert typing["call"].startswith("type(") and typing["cut"] == "during" and 0 < typing["typed"] < 3000
    print(f"X server killed while typing: exit 1, {typing['typed']} of 3000 characters recorded as typed")


def test_the_time_limit_cuts_a_long_type_and_the_episode_says_how_far_it_got(x_session, tmp_path):
    app = x_session.launch("form", geometry="700x560+40+30")
    app.wait_ready()
    text = "t" * 8000
    replies = [Script(app).pointer("left_click", "name_entry", "Focus."), f"type(content='{text}')", "DONE()"]
    with paced_as_a_calculator(x_session, "Demo Form"), ScriptedEndpoint(replies) as endpoint:
        result = gui_agent("run", "type", "--base-url", endpoint.url, "--display", x_session.display,
                           "--max-seconds", "2", "--out", str(tmp_path / "run"), env=x_session.env)
    assert result.returncode == 15, result.stdout
    episode = read_episode(tmp_path / "run")
    assert episode.end["status"] == "time_limit"
    cut = episode.steps[-1]
    assert (cut["outcome"], cut["cut"]) == ("time_limit", "during") and 0 < cut["typed"] < len(text)
    typed = app.wait_until(lambda r: len(r["state"]["name"]) == cut["typed"], 30, "the app to get every key sent")
    print(f"--max-seconds 2 cut an 8000-character type after {cut['typed']} characters; run ended after "
          f"{episode.end['seconds']} s; the app got {len(typed['state']['name'])}")


def test_resume_after_sigkill_mid_type_tells_the_model_what_was_under_way(x_session, tmp_path):
    app = x_session.launch("form", geometry="700x560+40+30")
    app.wait_ready()
    text = "k" * 3000
    out = tmp_path / "run"
    replies = [Script(app).pointer("left_click", "name_entry", "Focus."), f"type(content='{text}')"]
    with paced_as_a_calculator(x_session, "Demo Form"), ScriptedEndpoint(replies) as endpoint:
        process = subprocess.Popen([sys.executable, "-m", "agent", "run", "type", "--base-url", endpoint.url,
                                    "--display", x_session.display, "--out", str(out)], env=x_session.env,
                                   stdout=subprocess.DEVNULL)
        app.wait_until(lambda r: len(r["state"]["name"]) > 5, 30, "typing to start")
        process.send_signal(signal.SIGKILL)
        process.wait()
    with ScriptedEndpoint(["DONE()"]) as endpoint:
        result = gui_agent("resume", str(out), "--base-url", endpoint.url, "--display", x_session.display,
                           env=x_session.env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "after step 2" in result.stdout
    asked = json.dumps(endpoint.requests[0])
    assert f"type(content='{text}')" in asked and "killed while this was under way" in asked
    episode = read_episode(out)
    assert [s["index"] for s in episode.steps] == [1, 2, 3] and episode.steps[1]["cut"] == "during"
