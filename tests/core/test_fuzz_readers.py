"""The readers of files and replies from elsewhere, fuzzed: the episode reader, the skill reader and
the tool-call argument parser are given JSON with numbers that are not finite (NaN, Infinity, 1e400),
huge integers, nesting 100000 deep, fields of odd types and odd strings (controls, direction marks,
lone surrogates). Every input is read or refused with one line of AgentError, never another
exception or a hang (hypothesis's deadline, per case); what is read holds only finite numbers and
text that a page or a terminal can be given."""

import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from agent.core.console import console, show_error
from agent.core.episode import EPISODE_FILE, read_episode
from agent.core.errors import AgentError, EpisodeError, FormatError
from agent.demos.skills import list_skills
from agent.demos.versions import SKILL_FILE
from agent.planners.glm_tools import action_from_tool_call
from tests.core.test_hostile_episodes import base_records

FUZZ = settings(max_examples=400, deadline=timedelta(seconds=5), derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

ODD_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e-400", "1e30", "-1e30", "1" + "0" * 30,
               "9" * 400, "-" + "9" * 5000, "1" * 4301, "1000000001", "0.0", "-0", "2.5e9", "1E+2"]
ODD_TEXT = ["\\ud800", "\\udfff", "\\u202e", "\\u2066", "\\u0000", "\\u001b[2J", "\\u009b", "\\n", "é", "\\ufeff"]
DEPTHS = [33, 900, 5000, 100_000]


def text_json(text: str) -> str:
    return json.dumps(text)


number_text = st.sampled_from(ODD_NUMBERS) | st.integers(-2**80, 2**80).map(str) | st.floats().map(json.dumps)
odd_text = (st.lists(st.sampled_from(ODD_TEXT) | st.text(max_size=3).map(lambda t: text_json(t)[1:-1]), max_size=4)
            .map(lambda parts: '"' + "".join(parts) + '"'))
leaf = number_text | odd_text | st.text(max_size=20).map(text_json) | st.sampled_from(["true", "false", "null"])
json_text = st.recursive(leaf, lambda inner: st.lists(inner, max_size=3).map(lambda items: f"[{','.join(items)}]")
                         | st.lists(st.tuples(odd_text | st.text(max_size=4).map(text_json), inner), max_size=3)
                         .map(lambda pairs: "{" + ",".join(f"{k}:{v}" for k, v in pairs) + "}"), max_leaves=8)
deep = st.sampled_from(DEPTHS).flatmap(lambda depth: st.sampled_from(["[" * depth + "]" * depth,
                                                                      '{"a":' * depth + "1" + "}" * depth]))
plausible = st.integers(0, 999).map(str) | st.floats(0, 1e6).map(json.dumps) | st.text(max_size=10).map(text_json)
fragment = plausible | json_text | deep
sometimes = st.integers(0, 3).flatmap(lambda n: fragment if n == 0 else st.none())  # a whole line or file, 1 in 4

EPISODE_FIELDS = [("kind",), ("format",), ("task",), ("screen",), ("screen", "width"), ("screen", "scale"),
                  ("settings",), ("settings", "temperature"), ("index",), ("screenshot",), ("action",),
                  ("action", "point"), ("action", "seconds"), ("screen", "point"), ("screen", "point", 0),
                  ("snap",), ("timings",), ("timings", "model"), ("usage", "prompt_tokens"), ("then",), ("target",),
                  ("explanation",), ("status",), ("seconds",), ("steps",), ("version",), ("odd",)]
SKILL_FIELDS = [("name",), ("description",), ("params",), ("params", 0), ("params", 0, "name"), ("params", 0, "type"),
                ("params", 0, "default"), ("odd",)]

counted = {"episodes": 0, "episodes refused": 0, "skills": 0, "skills refused": 0, "tool calls": 0,
           "tool calls refused": 0}


@pytest.fixture(scope="module", autouse=True)
def case_count():
    yield
    print("\nfuzzed: " + ", ".join(f"{count} {what}" for what, count in counted.items()))


def with_fragments(record: dict, changes: list[tuple[tuple, str]]) -> str:
    """The record as JSON text with each change's fragment (JSON text) at its path, made where it is missing."""
    record = json.loads(json.dumps(record))
    for number, (path, _) in enumerate(changes):
        parent = record
        for key in path[:-1]:
            if isinstance(parent, list):
                parent = parent[min(key, len(parent) - 1)] if parent else parent
            elif not isinstance(parent.get(key), (dict, list)):
                parent[key] = [{}] if isinstance(key, int) else {}
                parent = parent[key]
            else:
                parent = parent[key]
        if isinstance(parent, list):
            parent.append(f"FRAGMENT-{number}")
        elif isinstance(parent, dict):
            parent[path[-1]] = f"FRAGMENT-{number}"
    text = json.dumps(record)
    for number, (_, fragment) in enumerate(changes):
        text = text.replace(f'"FRAGMENT-{number}"', fragment, 1)
    return text


def one_line(error: AgentError) -> None:
    """One line, which the console can print (show_error: a lone surrogate is shown escaped)."""
    message = str(error)
    assert "\n" not in message, message
    with console.capture() as captured:
        show_error(message)
    captured.get().encode("utf-8")


def shown_whole(value) -> None:
    """What a reader gave can be written back as strict JSON and given to a page or a terminal."""
    json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")


@FUZZ
@given(changes=st.lists(st.tuples(st.integers(0, 4), st.sampled_from(EPISODE_FIELDS), fragment), min_size=1,
                        max_size=3), whole_line=st.tuples(st.integers(0, 5), sometimes))
def test_the_episode_reader_reads_or_refuses_in_one_line(tmp_path_factory, changes, whole_line):
    folder = tmp_path_factory.mktemp("episode")
    records = base_records("glm")
    lines = [with_fragments(record, [(path, text) for line, path, text in changes if line == number])
             for number, record in enumerate(records)]
    if whole_line[1] is not None:
        lines.insert(*whole_line)
    (folder / EPISODE_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
    counted["episodes"] += 1
    try:
        episode = read_episode(folder)
    except EpisodeError as error:
        counted["episodes refused"] += 1
        one_line(error)
        return
    shown_whole([episode.header, *episode.steps, episode.end])


SKILL = {"name": "send", "description": "send the form", "params": [{"name": "name", "type": "str", "default": "Ada"}]}


@FUZZ
@given(changes=st.lists(st.tuples(st.sampled_from(SKILL_FIELDS), fragment), max_size=3),
       whole=sometimes)
def test_the_skill_reader_reads_or_refuses_in_one_line(tmp_path_factory, changes, whole):
    root = tmp_path_factory.mktemp("skills")
    text = with_fragments(SKILL, changes)
    (root / "send").mkdir()
    (root / "send" / SKILL_FILE).write_text(whole or text, encoding="utf-8")
    counted["skills"] += 1
    try:
        skills = list_skills(root)
    except AgentError as error:
        counted["skills refused"] += 1
        one_line(error)
        return
    shown_whole([skill.describe() for skill in skills])


@FUZZ
@given(name=st.sampled_from(["left_click", "scroll", "key", "type", "WAIT", "skill", "nope"]),
       arguments=st.lists(st.tuples(st.sampled_from(["start_box", "step", "keys", "content", "name", "params", "x"]),
                                    fragment), max_size=3)
       .map(lambda pairs: "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in pairs) + "}") | fragment,
       encoded_twice=st.booleans())
@example(name="left_click", arguments='{"start_box": "[1,2]", "\\n": 1}', encoded_twice=False)  # once found: a key \n
def test_the_tool_call_parser_reads_or_refuses_in_one_line(name, arguments, encoded_twice):
    counted["tool calls"] += 1
    try:
        action = action_from_tool_call({"function": {"name": name, "arguments": json.dumps(arguments)
                                                     if encoded_twice else arguments}})
    except FormatError as error:
        counted["tool calls refused"] += 1
        one_line(error)
        return
    shown_whole(action.model_dump())
