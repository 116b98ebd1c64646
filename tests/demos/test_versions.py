"""Versions of a demonstration (agent.demos.versions), from episode files alone: what a repaired
replay writes back, what it refuses to write, and a diff that reads any episode in one piece.
(tests/demos/test_repair.py does the same end to end, with the model and the form.)"""

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from agent.core.episode import EPISODE_FILE, EpisodeWriter, read_episode
from agent.core.errors import AgentError
from agent.demos.skills import load_demonstration_skill
from agent.demos.versions import diff, keep_repairs, version_file, versions
from tests.support.scenarios import gui_agent

SCREEN = {"display": ":1", "monitor": 1, "left": 0, "top": 0, "width": 640, "height": 400, "scale": 1.0,
          "image_width": 640, "image_height": 400}
WINDOW = {"name": "Demo Form", "left": 20, "top": 30, "width": 600, "height": 360}


def png(shade: int) -> bytes:
    return cv2.imencode(".png", np.full((400, 640, 3), shade, np.uint8))[1].tobytes()


def crop(shade: int) -> bytes:
    return cv2.imencode(".png", np.full((40, 80), shade, np.uint8))[1].tobytes()


def click(point: list[int], info: str) -> dict:
    model = [round(point[0] * 1000 / 640), round(point[1] * 1000 / 400)]
    return {"action": {"type": "click", "point": model, "button": "left", "element_info": info},
            "call": f"left_click(start_box='[{model[0]},{model[1]}]', element_info='{info}')",
            "screen": {"point": point}}


def target(file: str, text: str, point: list[int]) -> dict:
    return {"crop": file, "crop_point": [40, 20], "text": text, "text_offset": [0, 0],
            "window": WINDOW | {"offset": [point[0] - WINDOW["left"], point[1] - WINDOW["top"]]}}


def demonstration(folder: Path) -> Path:
    """Types the name, then clicks 'Submit {name}'; kept as a skill with the parameter name."""
    writer = EpisodeWriter(folder)
    writer.header(task="send the form", planner="demonstration", agent_version="test", settings={}, screen=SCREEN)
    writer.step({"index": 1, "screenshot": writer.screenshot(1, png(200)), "outcome": "ok",
                 "action": {"type": "type", "content": "{name}"}, "call": "type(content='{name}')", "screen": {}})
    writer.image("target-002-point.png", crop(90))
    writer.step({"index": 2, "screenshot": writer.screenshot(2, png(210)), "outcome": "ok",
                 **click([500, 300], "Submit {name}"),
                 "target": {"point": target("target-002-point.png", "Submit {name}", [500, 300])}})
    writer.end("done", "")
    (folder / "skill.json").write_text(json.dumps({"name": "send", "params": [{"name": "name", "default": "Ada"}]}))
    return folder


def repaired_replay(folder: Path, screen: dict = SCREEN) -> Path:
    """A replay of it with name=Grace whose step 2 the model found at (100, 300), reading 'Send Grace'."""
    writer = EpisodeWriter(folder)
    writer.header(task="send the form", planner="replay", agent_version="test",
                  settings={"replay_of": "x", "params": {"name": "Grace"}}, screen=screen)
    writer.step({"index": 1, "screenshot": writer.screenshot(1, png(220)), "outcome": "ok", "replays": 1,
                 "action": {"type": "type", "content": "Grace"}, "call": "type(content='Grace')", "screen": {}})
    writer.image("repair-002-point.png", crop(120))
    writer.step({"index": 2, "screenshot": writer.screenshot(2, png(230)), "outcome": "ok", "replays": 2,
                 **click([100, 300], "Submit Grace"), "grounding": {"method": "model", "score": 1.0},
                 "repair": {"name": "point", "model": "glm-4.5v", "raw": "...",
                            "target": target("repair-002-point.png", "Send Grace", [100, 300])}})
    writer.end("done", "")
    return folder


def test_a_repaired_step_becomes_version_2_with_its_own_files_and_the_parameter_put_back(tmp_path):
    skill = demonstration(tmp_path / "send")
    first = (skill / EPISODE_FILE).read_bytes()
    message = keep_repairs(read_episode(skill), repaired_replay(tmp_path / "replay"))
    assert message.startswith(f"step 2 repaired by glm-4.5v: version 2 of {skill} written, version 1 kept as "
                              "episode.v1.jsonl")
    assert (skill / version_file(1)).read_bytes() == first and versions(skill) == [1, 2]
    new = read_episode(skill)
    step = new.steps[1]
    assert new.header["version"] == 2 and new.steps[0] == read_episode(skill / version_file(1)).steps[0]
    assert step["target"]["point"]["text"] == "Send {name}" and step["action"]["element_info"] == "Send {name}"
    assert step["screen"] == {"point": [100, 300]}
    assert step["call"] == "left_click(start_box='[156,750]', element_info='Send {name}')"
    assert (skill / step["screenshot"]).read_bytes() == png(230)
    assert (skill / step["target"]["point"]["crop"]).read_bytes() == crop(120)
    assert (skill / "step-002.png").read_bytes() == png(210)  # version 1's files stay
    assert step["repaired"]["was"]["text"] == "Submit {name}"
    assert diff(skill) == [
        f"{skill}: version 2 against version 1",
        f"step 2 (repaired by glm-4.5v in the replay {tmp_path / 'replay'}):",
        "  - left_click(start_box='[781,750]', element_info='Submit {name}')",
        "  + left_click(start_box='[156,750]', element_info='Send {name}')",
        "  text: 'Submit {name}' -> 'Send {name}'",
        "  in window 'Demo Form' at (480, 270) -> (80, 270)",
        "  crop: target-002-point.png -> target-002-point-v2.png",
        "  point on the screen: (500, 300) -> (100, 300)",
        "  screenshot: step-002.png -> step-002-v2.png",
        "unchanged: step 1",
    ]

    # a second repair makes version 3 and keeps version 2; the diff compares with any kept version
    message = keep_repairs(read_episode(skill), repaired_replay(tmp_path / "replay-2"))
    assert "version 3" in message and versions(skill) == [1, 2, 3]
    assert diff(skill, 1)[0] == f"{skill}: version 3 against version 1"
    with pytest.raises(AgentError, match="keeps no version 7; it has 1, 2, 3"):
        diff(skill, 7)


def test_nothing_is_written_for_another_screen_an_old_version_or_an_agents_run(tmp_path):
    skill = demonstration(tmp_path / "send")
    before = {p.name: p.read_bytes() for p in skill.iterdir()}
    moved = repaired_replay(tmp_path / "moved", SCREEN | {"left": 640})  # the same size on the second monitor
    assert "no new version written: the replay's screen is 640x400" in keep_repairs(read_episode(skill), moved)
    replay = repaired_replay(tmp_path / "replay")
    shutil.copy(skill / EPISODE_FILE, skill / "copy.jsonl")
    assert keep_repairs(read_episode(skill / "copy.jsonl"), replay).endswith(
        "in this replay only: it replayed copy.jsonl, not the current version")
    (skill / "copy.jsonl").unlink()
    assert {p.name: p.read_bytes() for p in skill.iterdir()} == before

    run = demonstration(tmp_path / "run")
    (run / "skill.json").unlink()
    text = (run / EPISODE_FILE).read_text().replace('"planner": "demonstration"', '"planner": "glm"')
    (run / EPISODE_FILE).write_text(text)
    assert "in this replay only: " in keep_repairs(read_episode(run), replay)
    assert not (run / version_file(1)).exists()


def test_a_torn_last_line_is_kept_and_odd_fields_do_not_break_the_diff(tmp_path):
    skill = demonstration(tmp_path / "send")
    with open(skill / EPISODE_FILE, "a", encoding="utf-8") as file:
        file.write('{"kind": "st')  # a run killed mid-write
    keep_repairs(read_episode(skill), repaired_replay(tmp_path / "replay"))
    assert (skill / EPISODE_FILE).read_text().endswith('{"kind": "st\n')
    lines = [json.loads(line) for line in (skill / EPISODE_FILE).read_text().splitlines()[:-1]]
    lines[2]["repaired"] = "by hand"
    lines[2]["target"]["point"]["window"]["offset"] = "somewhere"
    (skill / EPISODE_FILE).write_text("\n".join(map(json.dumps, lines)) + "\n")
    shown = diff(skill)
    assert shown[1] == "step 2:" and "  text: 'Submit {name}' -> 'Send {name}'" in shown


@pytest.mark.parametrize("version, said", [(10**12, "field 'version' is out of range"),
                                           (999_999_999, "field 'version' must be at most 10000")])
def test_an_absurd_version_is_one_line_for_skills_list_and_diff_not_a_hang(tmp_path, version, said):
    skill = demonstration(tmp_path / "skills" / "send")
    (skill / version_file(1)).write_bytes((skill / EPISODE_FILE).read_bytes())
    lines = (skill / EPISODE_FILE).read_text().splitlines()
    lines[0] = json.dumps(json.loads(lines[0]) | {"version": version})
    (skill / EPISODE_FILE).write_text("\n".join(lines) + "\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    for command in (["list"], ["diff", "send"]):
        result = gui_agent("skills", *command, "--skills", str(tmp_path / "skills"), env=env, timeout=60)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert result.stdout.count("error") == 1 and said in " ".join(result.stdout.split()), result.stdout


def test_a_skill_file_is_read_by_its_schema_in_one_line(tmp_path):
    skill = demonstration(tmp_path / "send")
    for data, said in [({"name": "send", "params": [{"name": "name", "type": "dict"}]},
                        "field 'params.0.type' must be 'str', 'int', 'float' or 'bool'"),
                       ({"name": 7}, "field 'name' must be a string"),
                       ({"name": "send", "params": [{"name": "name", "default": [1]}]},
                        "field 'params.0.default' must be text, a number, true or false"),
                       ([1], "it is not a JSON object")]:
        (skill / "skill.json").write_text(json.dumps(data))
        with pytest.raises(AgentError) as refused:
            load_demonstration_skill(skill)
        assert str(refused.value) == f"{skill / 'skill.json'} is not a readable skill: {said}"
    (skill / "skill.json").write_text('{"name": "send", "params": [{"name": "name", "default": NaN}]}')
    with pytest.raises(AgentError, match="is not a readable skill: NaN is not a number gui-agent reads"):
        load_demonstration_skill(skill)
    (skill / "skill.json").write_text('{"name": "send", "params": [{"name": "name", "type": "int"}]}')
    assert load_demonstration_skill(skill).params[0].type == "int"
