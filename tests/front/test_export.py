"""`gui-agent export` (agent.export): every step of a run becomes a sample whose user message is
exactly what the agent sent (text, and images byte for byte), whose assistant message is the reply as
the model wrote it, and which a plain JSON load and image open accept; `--check` names a bad sample and
does not write it; runs that did not end done, and dialects not exported, are named. A run of the
embedded planner in Xvfb exports as a text-dialect run whose answers read back as its actions."""

import base64
import errno
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from agent.cli import main
from agent.core.episode import EpisodeWriter, read_episode
from agent.core.errors import EpisodeError
from agent.core.executors import RecordingComputer
from agent.core.geometry import Monitor
from agent.core.loop import Agent, Limits
from agent.core.planner import Reply
from agent.demos.skills import add_skill, list_skills
from agent.export import export
from agent.planners.glm import GLMConfig, GLMPlanner, interpret
from tests.support import EPISODES
from tests.support.endpoint import ScriptedEndpoint
from tests.support.fakes import FakeScreen
from tests.support.scenarios import gui_agent

BOX = "<|begin_of_box|>{}<|end_of_box|>"
# Invented replies in GLM-4.5V's output format (reasoning split off by the server, box tokens kept).
REPLIES = [
    {"content": "The Name field is empty. " + BOX.format("left_click(start_box='[310,102]', element_info='Name')")
                + "\nMemory:\n[]", "reasoning_content": "The form is open; first the Name field."},
    "I will type now, no action here.",  # a reply without an action: a format error, then a correction
    {"content": "Type the name. " + BOX.format("type(content='{{NAME}}')") + "\nMemory:\n[{\"typed\": \"name\"}]",
     "reasoning_content": "The field has the focus."},
    {"content": "<think>Submit with the keyboard.</think>Submit. " + BOX.format("key(keys='ctrl+Return')")
                + "\nMemory:\n[{\"typed\": \"name\"}]"},
    {"content": "Done. " + BOX.format("DONE()") + "\nMemory:\n[]", "reasoning_content": "It was sent."},
]


def glm_run(folder: Path, replies=REPLIES, max_steps: int = 10, skills: Path | None = None,
            task: str = "Fill in the form for {{NAME}}") -> list[dict]:
    """A text-dialect run against the loopback endpoint (offering the skills in `skills`, as `run --skills`
    does); the request bodies it sent."""
    offered = [one.describe() for one in list_skills(skills)] if skills else None
    with ScriptedEndpoint(replies) as endpoint:
        planner = GLMPlanner(GLMConfig(base_url=endpoint.url, api_key="sk-test", max_retries=0, timeout=10), offered)
        settings = {"skills": [one["name"] for one in offered], "skills_dir": str(skills), "python_skills": False} \
            if offered else {}
        Agent(task, planner, RecordingComputer(Monitor(0, 0, 640, 400)),
              FakeScreen(640, 400), EpisodeWriter(folder), limits=Limits(steps=max_steps),
              settings={**planner.config.model_dump(), "protocol": "text", **settings}).run()
    return endpoint.requests


def as_sent(body: dict) -> tuple[str, list[bytes]]:
    """The user message's text with <image> for each image, and the images, as the endpoint got them."""
    text, images = "", []
    for part in body["messages"][0]["content"]:
        if part["type"] == "text":
            text += part["text"]
        else:
            text += "<image>"
            images.append(base64.b64decode(part["image_url"]["url"].split(",", 1)[1]))
    return text, images


def read_plainly(data: Path) -> list[dict]:
    """What an independent reader does: a JSON load per line, each image opened from the data's folder."""
    samples = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines()]
    for sample in samples:
        user, model = sample["messages"]
        assert (user["role"], model["role"]) == ("user", "assistant")
        assert user["content"].count("<image>") == len(sample["images"])
        for name in sample["images"]:
            with Image.open(data.parent / name) as image:
                image.load()
    return samples


def test_each_step_is_what_the_agent_sent_and_what_the_model_replied(tmp_path):
    requests = glm_run(tmp_path / "run")
    result = export([tmp_path / "run"], tmp_path / "data" / "train.jsonl", check=True)
    samples = read_plainly(tmp_path / "data" / "train.jsonl")

    # five requests, one of which got the unusable reply: four samples, each for the request it answered
    assert len(requests) == 5 and result.samples == 4 and not result.refused
    for sample, body in zip(samples, [requests[0], *requests[2:]]):
        text, images = as_sent(body)
        assert sample["messages"][0]["content"] == text
        assert [(tmp_path / "data" / name).read_bytes() for name in sample["images"]] == images
    assert "# Correction\nYour previous reply could not be used" in samples[1]["messages"][0]["content"]
    assert [len(s["images"]) for s in samples] == [1, 2, 3, 4]  # the history's half-size shots, then the screen
    assert samples[0]["messages"][1]["content"] == "<think>The form is open; first the Name field.</think>" + \
        REPLIES[0]["content"]
    assert samples[2]["messages"][1]["content"] == REPLIES[3]["content"]  # its <think> was inline already
    assert "{{NAME}}" in samples[1]["messages"][1]["content"]  # a secret stays its placeholder
    distinct = {name for s in samples for name in s["images"]}
    assert result.images == len(distinct) < sum(len(s["images"]) for s in samples)
    assert "sk-test" not in (tmp_path / "data" / "train.jsonl").read_text()


def test_check_names_a_bad_sample_and_does_not_write_it(tmp_path):
    glm_run(tmp_path / "run")
    episode = tmp_path / "run" / "episode.jsonl"
    lines = episode.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if '"kind": "step", "index": 3,' in line)
    step = json.loads(lines[at])
    step["raw"] = "Type the name, but the box lost its call."  # as a damaged or hand-edited episode could hold
    lines[at] = json.dumps(step)
    episode.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = export([tmp_path / "run"], tmp_path / "train.jsonl", check=True)
    assert result.samples == 3 and len(result.refused) == 1
    assert " step 3: the reply does not read: " in result.refused[0] and "\n" not in result.refused[0]
    assert "box lost its call" not in (tmp_path / "train.jsonl").read_text()
    assert len(read_plainly(tmp_path / "train.jsonl")) == 3
    assert export([tmp_path / "run"], tmp_path / "unchecked.jsonl").samples == 4  # without --check it is written


def test_only_runs_that_ended_done_unless_all_and_the_rest_are_named(tmp_path, capsys):
    glm_run(tmp_path / "limited", REPLIES[:1] * 2, max_steps=2)  # ends step_limit
    shutil.copytree(EPISODES / "form", tmp_path / "form")
    form = tmp_path / "form" / "episode.jsonl"
    tools = form.read_text(encoding="utf-8").replace('"planner": "glm"', '"planner": "tools"')
    form.write_text(tools, encoding="utf-8")

    assert main(["export", str(tmp_path / "limited"), str(tmp_path / "form"), "--out", str(tmp_path / "a.jsonl")]) == 1
    printed = " ".join(capsys.readouterr().out.split())
    assert "it ended step_limit, not done (--all exports it)" in printed
    assert "planner 'tools': only the text dialect's replies, the embedded planner's and demonstrations are " \
           "exported (the tools dialect is not yet)" in printed
    assert "nothing exported from 2 run(s)" in printed

    assert main(["export", str(tmp_path / "limited"), "--all", "--out", str(tmp_path / "b.jsonl"), "--check"]) == 0
    assert len(read_plainly(tmp_path / "b.jsonl")) == 2
    assert "exported 2 sample(s) from 1 run(s)" in " ".join(capsys.readouterr().out.split())


def test_an_embedded_planner_run_exports_as_samples_whose_answers_are_its_actions(x_session, tmp_path):
    app = x_session.launch("form", geometry="700x560+40+30")
    app.wait_ready()
    task = 'type "Ada" into Name, then tick "Subscribe", then click "Submit"'
    ran = gui_agent("run", task, "--model", "local", "--display", x_session.display, "--out", str(tmp_path / "run"),
                    "--no-report", env=x_session.env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    result = export([tmp_path / "run"], tmp_path / "data" / "local.jsonl", check=True)
    samples = read_plainly(tmp_path / "data" / "local.jsonl")
    steps = [s for s in read_episode(tmp_path / "run").steps if "call" in s]
    assert result.samples == len(samples) == len(steps) >= 3 and not result.refused and not result.skipped
    for number, (sample, step) in enumerate(zip(samples, steps)):
        user, answer = (message["content"] for message in sample["messages"])
        assert user.startswith("You are a GUI agent") and f"# Task:\n{task}" in user
        assert len(sample["images"]) == 1 + min(number, 4)
        shown = (tmp_path / "data" / sample["images"][-1]).read_bytes()
        assert shown == (tmp_path / "run" / step["screenshot"]).read_bytes()
        decision = interpret(Reply(answer))
        assert [json.loads(a.model_dump_json()) for a in decision.actions] == \
            [step["action"], *(then["action"] for then in step.get("then", []))]
        assert answer.endswith("\nMemory:\n[]") and decision.memory == "[]"


def test_a_resumed_run_exports_the_requests_it_sent_after_the_resume(tmp_path):
    """The first request after a resume carries no correction for the step the run ended on."""
    before = glm_run(tmp_path / "run", REPLIES[:2], max_steps=2)  # a good step, then a reply with no action
    with ScriptedEndpoint(REPLIES[2:]) as endpoint:  # as agent.api.resume goes on: history restored, episode appended
        planner = GLMPlanner(GLMConfig(base_url=endpoint.url, api_key="sk-test", max_retries=0, timeout=10))
        planner.restore(read_episode(tmp_path / "run"))
        Agent("Fill in the form for {{NAME}}", planner, RecordingComputer(Monitor(0, 0, 640, 400)),
              FakeScreen(640, 400), EpisodeWriter(tmp_path / "run", resume=True), limits=Limits(steps=10),
              resume_from={"steps": 2, "tokens": 0}).run()
    assert read_episode(tmp_path / "run").resumed_after == [2]

    result = export([tmp_path / "run"], tmp_path / "train.jsonl", check=True)
    samples = read_plainly(tmp_path / "train.jsonl")
    assert result.samples == len(samples) == 4
    for sample, body in zip(samples, [before[0], *endpoint.requests]):
        assert sample["messages"][0]["content"] == as_sent(body)[0]
    assert "# Correction" not in samples[1]["messages"][0]["content"]


def skills_folder(folder: Path) -> Path:
    for name in ("register", "fill"):
        add_skill(name, EPISODES / "form", {}, "Fill in the form", root=folder)
    return folder


def test_a_run_that_offered_skills_exports_them_in_its_action_space_as_resume_offers_them(tmp_path, capsys):
    skills = skills_folder(tmp_path / "skills")
    requests = glm_run(tmp_path / "run", skills=skills)
    result = export([tmp_path / "run"], tmp_path / "train.jsonl", check=True, skills_dir=skills)
    samples = read_plainly(tmp_path / "train.jsonl")
    assert result.samples == 4 and not result.skipped and result.skills_from == {f"{skills} (--skills)"}
    for sample, body in zip(samples, [requests[0], *requests[2:]]):
        assert sample["messages"][0]["content"] == as_sent(body)[0]
    assert "### skill" in samples[0]["messages"][0]["content"] and "register" in samples[0]["messages"][0]["content"]
    assert main(["export", str(tmp_path / "run"), "--out", str(tmp_path / "cli.jsonl"), "--skills", str(skills)]) == 0
    assert f"skills read from: {skills} (--skills)" in " ".join(capsys.readouterr().out.split())

    shutil.rmtree(skills / "fill")  # the folder no longer has a skill the run offered
    result = export([tmp_path / "run"], tmp_path / "again.jsonl", skills_dir=skills)
    assert result.samples == 0 and result.skipped == [
        f"{tmp_path / 'run'}: the run offered skills that are no demonstration skills in {skills} now: fill "
        "(Python skills are not loaded: export runs no code)"]


def test_skills_come_from_skills_dir_or_the_runs_own_folder_never_from_one_its_episode_names(tmp_path):
    """An episode from elsewhere names a folder (another user's skills, a secret's path): without --skills,
    only a folder inside the run's own is read, and where the skills came from is said."""
    elsewhere = skills_folder(tmp_path / "elsewhere")
    glm_run(tmp_path / "run", skills=elsewhere)  # its header names tmp_path/elsewhere
    result = export([tmp_path / "run"], tmp_path / "train.jsonl")
    assert result.samples == 0 and not result.skills_from and result.skipped == [
        f"{tmp_path / 'run'}: it offered skills from {elsewhere}, not from its own folder, and export reads no "
        "folder an episode names: --skills DIR exports it with the skills in DIR"]
    assert "Fill in the form" not in (tmp_path / "train.jsonl").read_text()

    glm_run(tmp_path / "own", skills=skills_folder(tmp_path / "own" / "skills"))
    result = export([tmp_path / "own"], tmp_path / "own.jsonl", check=True)
    assert result.samples == 4 and result.skills_from == {f"{tmp_path / 'own' / 'skills'} (the run's own folder)"}

    (tmp_path / "linked" / "skills").mkdir(parents=True)  # its own folder, whose skill is a link to elsewhere
    (tmp_path / "linked" / "skills" / "register").symlink_to(elsewhere / "register")
    shutil.copytree(elsewhere / "fill", tmp_path / "linked" / "skills" / "fill")
    glm_run(tmp_path / "linked", skills=tmp_path / "linked" / "skills")
    result = export([tmp_path / "linked"], tmp_path / "linked.jsonl")
    assert result.samples == 0 and result.skipped == [
        f"{tmp_path / 'linked'}: its skills register are links out of the run's folder; --skills DIR exports it "
        "with the skills in DIR"]


def test_a_literal_image_tag_in_a_task_or_a_reply_is_never_written_even_without_check(tmp_path, capsys):
    """ms-swift takes every <image> in a message for the next image, and has no escape for it."""
    glm_run(tmp_path / "task", task='Type "<image>" into Name')
    result = export([tmp_path / "task"], tmp_path / "task.jsonl")
    assert result.samples == 0 and len(result.refused) == 4
    assert result.refused[0].endswith(" step 1: 2 <image> tokens for 1 images: its text holds a literal <image>, "
                                      "which ms-swift's template takes for an image (it has no escape)")

    replies = [*REPLIES[:2], {"content": "Type it. " + BOX.format("type(content='<image>')") + "\nMemory:\n[]"},
               *REPLIES[3:]]
    glm_run(tmp_path / "reply", replies)
    assert main(["export", str(tmp_path / "reply"), "--out", str(tmp_path / "reply.jsonl")]) == 1
    printed = " ".join(capsys.readouterr().out.split())
    assert "step 3: 3 <image> tokens for 2 images" in printed  # the reply itself
    assert "step 4: 4 <image> tokens for 3 images" in printed  # the next request holds it in its history
    assert len(read_plainly(tmp_path / "reply.jsonl")) == 1


def test_export_never_writes_through_a_link(tmp_path):
    glm_run(tmp_path / "run")
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train-images").symlink_to(outside)
    with pytest.raises(EpisodeError) as refused:
        export([tmp_path / "run"], tmp_path / "data" / "train.jsonl")
    assert str(refused.value) == (f"{tmp_path / 'data' / 'train-images'} is a link; export never writes through "
                                  "links: remove it, or choose another --out")
    assert list(outside.iterdir()) == [] and not (tmp_path / "data" / "train.jsonl").exists()

    (tmp_path / "data" / "train-images").unlink()
    (tmp_path / "data" / "train-images").mkdir()
    export([tmp_path / "run"], tmp_path / "data" / "first.jsonl")
    image = json.loads((tmp_path / "data" / "first.jsonl").read_text().splitlines()[0])["images"][0]
    linked = tmp_path / "data" / image.replace("first-", "train-")  # an image's own name is a link to elsewhere
    linked.symlink_to(outside / "kept.png")
    (outside / "kept.png").write_bytes(b"not to be overwritten")
    export([tmp_path / "run"], tmp_path / "data" / "train.jsonl")
    assert (outside / "kept.png").read_bytes() == b"not to be overwritten" and not linked.is_symlink()


@pytest.fixture
def read_only_folder(tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode:
        pytest.skip(f"root, and cannot mount a read-only tmpfs here: {mounted.stderr.decode().strip()}")
    yield folder
    subprocess.run(["umount", "--lazy", str(folder)], check=True)


def test_a_read_only_folder_is_one_line_saying_what_to_do(tmp_path, read_only_folder, capsys):
    glm_run(tmp_path / "run")
    assert main(["export", str(tmp_path / "run"), "--out", str(read_only_folder / "train.jsonl")]) == 1
    error = capsys.readouterr().out.strip()
    assert error.startswith(f"error: cannot write {read_only_folder / 'train-images'}") and "\n" not in error
    assert error.endswith("; check the folder can be written")
    assert list(read_only_folder.iterdir()) == []


def test_eval_onto_a_read_only_folder_is_one_line_before_any_task_starts(read_only_folder):
    """The other writers of the command line: `report` and `record` said it in one line already."""
    result = gui_agent("eval", "form_name", "--out", str(read_only_folder / "eval"), env=dict(os.environ))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    error = " ".join(result.stdout.split("error: ", 1)[1].split())
    assert error.startswith(f"cannot write in {read_only_folder / 'eval'}: ")
    assert error.endswith("; check the folder can be written") and "task" not in error


def test_a_full_disk_is_one_line_and_leaves_no_data_file_or_half_written_image(tmp_path, capsys, monkeypatch):
    glm_run(tmp_path / "run")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.jsonl").write_text("an earlier export\n")
    real_fdopen, writes = os.fdopen, []

    class FullDisk:
        """A file on a disk that fills up at the third file written: part of it, then ENOSPC."""
        def __init__(self, file):
            self.file = file

        def write(self, data):
            writes.append(len(data))
            if len(writes) < 3:
                return self.file.write(data)
            self.file.write(data[:100])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

    monkeypatch.setattr(os, "fdopen", lambda fd, mode="r", *args, **kwargs:
                        FullDisk(real_fdopen(fd, mode, *args, **kwargs)))
    assert main(["export", str(tmp_path / "run"), "--out", str(tmp_path / "data" / "train.jsonl")]) == 1
    error = capsys.readouterr().out.strip()
    assert error.startswith(f"error: cannot write {tmp_path / 'data' / 'train-images'}/") and "\n" not in error
    assert error.endswith(": No space left on device; free some space on its disk")
    assert (tmp_path / "data" / "train.jsonl").read_text() == "an earlier export\n"
    images = list((tmp_path / "data" / "train-images").iterdir())
    assert len(images) == 2 and all(Image.open(image).verify() is None for image in images)  # whole, or not there
