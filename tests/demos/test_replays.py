"""Episodes kept under tests/episodes/ (written by the agent; `tests/support/make_episodes.py` regenerates
them) are replayed on a fresh sandbox and must reproduce the same app state."""

import json
import shutil

import pytest

from agent.core.episode import read_episode
from tests.support import EPISODES
from tests.support.scenarios import SCENARIOS, gui_agent


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_recorded_episode_replays_to_the_same_app_state(name, x_session, tmp_path):
    scenario = SCENARIOS[name]
    recorded = read_episode(EPISODES / name)
    assert recorded.end["status"] == "done"
    workdir = tmp_path / "work"
    workdir.mkdir()
    app = x_session.launch(scenario.app, *scenario.args(workdir), geometry=scenario.geometry)
    app.wait_ready()
    result = gui_agent("replay", str(EPISODES / name), "--display", x_session.display,
                       "--out", str(tmp_path / "replay"), env=x_session.env)
    assert result.returncode == 0, result.stdout + result.stderr
    expected = json.loads((EPISODES / name / "outcome.json").read_text())
    assert scenario.outcome(app.record(), workdir) == expected
    replayed = read_episode(tmp_path / "replay")
    assert [s["call"] for s in replayed.steps] == [s["call"] for s in recorded.steps]
    assert [s["screen"] for s in replayed.steps] == [s["screen"] for s in recorded.steps]


def test_a_cut_short_episode_replays_what_it_has_and_says_so(x_session, tmp_path):
    cut = tmp_path / "cut"
    shutil.copytree(EPISODES / "form", cut)
    lines = (cut / "episode.jsonl").read_text().splitlines()
    (cut / "episode.jsonl").write_text("\n".join(lines[:4]) + "\n" + lines[4][:50])  # killed mid-write
    app = x_session.launch("form", geometry=SCENARIOS["form"].geometry)
    app.wait_ready()
    result = gui_agent("replay", str(cut), "--display", x_session.display, "--out", str(tmp_path / "replay"),
                       env=x_session.env)
    assert "cut short" in result.stdout
    assert result.returncode == 1 and "no more recorded replies (3 served)" in result.stdout
    assert app.record()["state"]["name"] == "Zoë Ångström"  # the steps it had were performed
    replayed = read_episode(tmp_path / "replay")  # and the step that found no reply has its line too
    assert [s["outcome"] for s in replayed.steps] == ["ok", "ok", "ok", "error"] and replayed.end["steps"] == 4
    assert replayed.steps[3]["error"] == replayed.end["message"]


def test_a_corrupt_episode_is_a_one_line_error(tmp_path):
    (tmp_path / "episode.jsonl").write_text('{"kind": "header"}\nnot json\n{"kind": "end"}\n')
    result = gui_agent("replay", str(tmp_path), "--display", ":0", env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 1
    assert result.stdout.strip().splitlines() == [f"error: {tmp_path / 'episode.jsonl'} line 2 is not an episode "
                                                  "record; the file is corrupt"]
