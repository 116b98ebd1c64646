"""Demonstration repair. A demonstration that fills in the form's name and clicks Submit is kept as a
skill, then run on the form's next release (`--redesigned`: the button now reads Send and sits at the
other end of its row). Its crop, its text and its window offset all miss; the loopback endpoint
standing in for GLM-4.5V is asked, and its point is taken only where the screen agrees with the
recording. The replies are invented (labelled so): the point in them is the Send button's own
rectangle as the form reports it, or, for the refusals, another widget's."""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from agent.core.episode import read_episode
from agent.reports import write_report
from sandbox.session import XSession
from tests.demos.test_demonstrations import RECORDED_AT, Person, start_recording
from tests.support.endpoint import ScriptedEndpoint
from tests.support.scenarios import HEIGHT, WIDTH, Script, gui_agent

pytestmark = pytest.mark.xvfb  # every test here starts an X server


@pytest.fixture(scope="module")
def recorded_skills(tmp_path_factory):
    """SKILLS/send-form: click the Name field, type Ada, click Submit; recorded on the form as it was."""
    base = tmp_path_factory.mktemp("repair")
    root, folder = base / "skills", base / "demonstration"
    with XSession(WIDTH, HEIGHT) as session:
        app = session.launch("form", geometry=RECORDED_AT)
        app.wait_ready()
        recorder = start_recording(session, folder)
        person = Person(session, app)
        person.click("name_entry")
        person.xdotool("type", "Ada")
        person.sees(lambda r: r["state"]["name"] == "Ada")
        person.click("submit")
        person.sees(lambda r: any(e["event"] == "submit" for e in r["events"]))
        subprocess.run(["xdotool", "key", "ctrl+alt+shift+q"], env=session.env, check=True)
        out, err = recorder.communicate(timeout=60)
        assert recorder.returncode == 0, out + err
    added = gui_agent("skills", "add", "send-form", str(folder), "--skills", str(root), env={**session.env})
    assert added.returncode == 0, added.stdout + added.stderr
    steps = read_episode(root / "send-form").steps
    assert [s["call"].split("(")[0] for s in steps] == ["left_click", "type", "left_click"]
    assert steps[2]["target"]["point"]["text"] == "Submit"
    assert steps[0]["target"]["point"]["text"] == ""  # the empty field: not the title bar just above it
    return root


@pytest.fixture
def skills(recorded_skills, tmp_path):
    """A copy of the recorded skills for one test, which may repair them."""
    return Path(shutil.copytree(recorded_skills, tmp_path / "skills"))


def button_point(app, widget: str) -> str:
    """The centre of a widget of the form as '[x,y]' in 0-999 of the screen (the monitor is the whole screen)."""
    return Script(app).at(widget)


def glm_reply(point: str, named: str) -> str:
    """Invented, in GLM-4.5V's text protocol: thinking, explanation, the call in box tokens, memory."""
    return (f"<think>Step 1 clicked Submit below the form. The form now shows Clear and {named} at the left of "
            f"that row; {named} is the button that submits.</think>The button is labelled {named} now. "
            f"<|begin_of_box|>left_click(start_box='{point}', element_info='{named} button')"
            "<|end_of_box|>\nMemory:\n[]")


def run_skill(session, skills, out, *extra) -> subprocess.CompletedProcess:
    return gui_agent("run-skill", "send-form", "--skills", str(skills), "--display", session.display,
                     "--out", str(out), "--target-timeout", "2", *extra, env=session.env)


def submits(app) -> list[dict]:
    return [e["values"] for e in app.record()["events"] if e["event"] == "submit"]


def test_a_moved_and_renamed_button_is_repaired_through_the_model_and_the_new_version_replays_alone(skills, tmp_path):
    skill = skills / "send-form"
    first_version = (skill / "episode.jsonl").read_bytes()
    with XSession(WIDTH, HEIGHT) as session:
        app = session.launch("form", "--redesigned", geometry=RECORDED_AT)
        app.wait_ready()
        send = button_point(app, "submit")

        def answer(body):
            content = body["messages"][0]["content"]
            assert [part["type"] for part in content].count("image_url") == 3  # as recorded, step 1's screen, now
            text = "".join(part.get("text", "") for part in content)
            assert "'Submit'" in text and "'Demo Form'" in text and "Action: left_click(" in text
            return glm_reply(send, "Send")

        with ScriptedEndpoint([answer]) as endpoint:
            ran = run_skill(session, skills, tmp_path / "repair", "--repair", "--base-url", endpoint.url)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert len(endpoint.requests) == 1 and not endpoint.errors
        assert "step 3 repaired by glm-4.5v: version 2" in " ".join(ran.stdout.split())
        assert submits(app) == [submits(app)[0]] and submits(app)[0]["name"] == "Ada"

        replay = read_episode(tmp_path / "repair")
        grounded = [s["grounding"]["method"] for s in replay.steps if "grounding" in s]
        assert grounded[-1] == "model" and "model" not in grounded[:-1]
        repair = replay.steps[-1]["repair"]
        assert repair["target"]["text"] == "Send" and "<|begin_of_box|>" in repair["raw"]
        assert set(replay.steps[-1]["timings"]) == {"capture", "encode", "model", "check", "act", "settle"}
        assert replay.end["screenshot"] == "final.png" and (tmp_path / "repair" / "final.png").is_file()
        page = write_report(tmp_path / "repair").read_text(encoding="utf-8")
        assert "target found by its crop (score " in page and "the target was lost; glm-4.5v answered" in page
        assert "taken: it reads “Send”" in page and "after: no screenshot" not in page

        # the old version is kept as it was; the new one names new files for the repaired step
        assert (skill / "episode.v1.jsonl").read_bytes() == first_version
        old, new = read_episode(skill / "episode.v1.jsonl"), read_episode(skill)
        assert new.header["version"] == 2 and new.steps[:2] == old.steps[:2]
        assert new.steps[2]["target"]["point"]["text"] == "Send" and "element_info='Send'" in new.steps[2]["call"]
        for version in (old, new):
            for step in version.steps:
                assert (skill / step["screenshot"]).is_file()
                assert all((skill / t["crop"]).is_file() for t in step.get("target", {}).values())

        diffed = gui_agent("skills", "diff", "send-form", "--skills", str(skills), env=session.env)
        assert diffed.returncode == 0, diffed.stderr
        lines = diffed.stdout.splitlines()
        assert lines[0].endswith("version 2 against version 1")
        assert lines[1].startswith("step 3 (repaired by glm-4.5v in the replay ")
        assert lines[2].startswith("  - left_click(") and "element_info='Submit'" in lines[2]
        assert lines[3].startswith("  + left_click(") and "element_info='Send'" in lines[3]
        assert "  text: 'Submit' -> 'Send'" in lines and lines[-1] == "unchanged: steps 1, 2"
        assert any(line.startswith("  point on the screen: ") for line in lines)
        listed = gui_agent("skills", "list", "--skills", str(skills), env=session.env)
        assert "demonstration version 2 (`gui-agent skills diff send-form`)" in listed.stdout

        # version 2 on a new start of the redesigned form, with no endpoint: no model needed
        app.process.terminate()
        again = session.launch("form", "--redesigned", geometry=RECORDED_AT)
        again.wait_ready()
        ran = run_skill(session, skills, tmp_path / "again")
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert submits(again)[0]["name"] == "Ada"
        methods = [s["grounding"]["method"] for s in read_episode(tmp_path / "again").steps if "grounding" in s]
        assert methods and "model" not in methods

        # and version 1 still replays on the form it was recorded on
        again.process.terminate()
        original = session.launch("form", geometry=RECORDED_AT)
        original.wait_ready()
        replayed = gui_agent("replay", str(skill / "episode.v1.jsonl"), "--display", session.display,
                             "--out", str(tmp_path / "v1"), "--target-timeout", "2", env=session.env)
        assert replayed.returncode == 0, replayed.stdout + replayed.stderr
        assert submits(original)[0]["name"] == "Ada"


@pytest.mark.parametrize("case", ["clear_named_send", "clear_named_clear", "name_field", "fail"])
def test_a_model_point_the_screen_does_not_bear_out_stops_the_replay_and_writes_no_version(skills, tmp_path, case):
    skill = skills / "send-form"
    before = {p.name: p.read_bytes() for p in skill.iterdir()}
    with XSession(WIDTH, HEIGHT) as session:
        app = session.launch("form", "--redesigned", geometry=RECORDED_AT)
        app.wait_ready()
        reply = {"clear_named_send": glm_reply(button_point(app, "clear"), "Send"),
                 "clear_named_clear": glm_reply(button_point(app, "clear"), "Clear"),
                 "name_field": glm_reply(button_point(app, "name_entry"), "Send"),
                 "fail": "The Submit button is not on the screen. <|begin_of_box|>FAIL()<|end_of_box|>\nMemory:\n[]"}[case]
        with ScriptedEndpoint([reply]) as endpoint:
            started = time.monotonic()
            ran = run_skill(session, skills, tmp_path / "replay", "--repair", "--base-url", endpoint.url)
        assert ran.returncode == 1, ran.stdout + ran.stderr
        assert "Traceback" not in ran.stderr and time.monotonic() - started < 60
        message = read_episode(tmp_path / "replay").end["message"]
        assert message.startswith("step 3 (left_click(") and "\n" not in message
        assert message.endswith("; stopped without acting")
        why = {"clear_named_send": "the text there is 'Clear', neither the recorded 'Submit' nor what the model named",
               "clear_named_clear": "'Clear' was on the recorded screen already, so it is another element, not 'Submit' "
                                    "renamed",
               "name_field": "the box there is ",
               "fail": "glm-4.5v answered 'FAIL()', not one pointed action"}[case]
        assert why in message
        last = read_episode(tmp_path / "replay").steps[-1]
        assert last["outcome"] == "not_found" and last["repair"]["raw"] == reply
        page = write_report(tmp_path / "replay").read_text(encoding="utf-8")
        assert "the target was lost; glm-4.5v answered" in page and "not taken: " in page
        assert " ".join(why.replace("'", "&#x27;").split()) in page
        assert submits(app) == []
    assert {p.name: p.read_bytes() for p in skill.iterdir()} == before


def test_repair_without_an_endpoint_is_a_one_line_error_before_anything_runs(skills, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUI_AGENT_", "ZAI_"))}
    ran = gui_agent("run-skill", "send-form", "--skills", str(skills), "--repair", "--display", ":99",
                    "--out", str(tmp_path / "out"), env=env)
    assert ran.returncode == 1 and "Traceback" not in ran.stderr
    assert "--repair asks GLM-4.5V where a lost target is now: give its endpoint with --base-url" in ran.stdout + ran.stderr
    assert not (tmp_path / "out").exists()


def test_a_step_whose_screenshot_is_gone_is_not_asked_of_the_model(skills, tmp_path):
    (skills / "send-form" / "step-003.png").unlink()
    with XSession(WIDTH, HEIGHT) as session:
        app = session.launch("form", "--redesigned", geometry=RECORDED_AT)
        app.wait_ready()
        with ScriptedEndpoint([]) as endpoint:
            ran = run_skill(session, skills, tmp_path / "replay", "--repair", "--base-url", endpoint.url)
        assert ran.returncode == 1 and not endpoint.requests and "Traceback" not in ran.stderr
        message = read_episode(tmp_path / "replay").end["message"]
        assert "; glm-4.5v was not asked: " in message and "step-003.png" in message
        assert message.endswith("; stopped without acting") and submits(app) == []
