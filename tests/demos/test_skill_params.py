"""Skills: parameter values become placeholders once and are filled in once; Python skills are
loaded (their code run) only when asked."""

import os

import pytest

from agent.core.errors import AgentError
from agent.demos.skills import find_skill, list_skills, with_placeholders
from tests.support.scenarios import gui_agent

PLANTED = """
from pathlib import Path
Path(__file__).with_name("ran").write_text("the module's code ran")
"""


def test_a_value_that_looks_like_a_placeholder_name_is_replaced_once():
    step = {"action": {"type": "type", "content": "Ada Lovelace, Ada, full"}, "target": {"field": {"text": "Ada"}}}
    filled = with_placeholders(step, {"first": "Ada", "word": "full", "full": "Ada Lovelace"})
    assert filled["action"]["content"] == "{full}, {first}, {word}"
    assert filled["call"] == "type(content='{full}, {first}, {word}')"
    assert filled["target"]["field"]["text"] == "{first}"


def test_a_parameter_whose_value_reads_like_a_placeholder_is_typed_as_given():
    from agent.demos.reground import substitute
    assert substitute("{first} {last}, {other}", {"first": "{last}", "last": "Lovelace"}) == "{last} Lovelace, {other}"


def test_python_skills_run_no_code_unless_asked(tmp_path):
    (tmp_path / "planted.py").write_text(PLANTED)
    listed = gui_agent("skills", "list", "--skills", str(tmp_path), env=dict(os.environ))
    assert listed.returncode == 0 and "not loaded: planted.py" in listed.stdout
    assert list_skills(tmp_path) == [] and not (tmp_path / "ran").exists()
    with pytest.raises(AgentError, match="--python-skills loads them"):
        find_skill("planted", tmp_path)
    assert not (tmp_path / "ran").exists()
    list_skills(tmp_path, python=True)
    assert (tmp_path / "ran").exists()


def test_skill_params_nested_too_deep_are_a_format_error_not_a_crash():
    from agent.core.errors import FormatError
    from agent.core.planner import Reply
    from agent.planners.glm import interpret
    nested = "[" * 20_000 + "]" * 20_000  # under the reply size bound, far over json's depth
    with pytest.raises(FormatError, match="params must be a JSON object"):
        interpret(Reply(f"<|begin_of_box|>skill(name='x', params='{nested}')<|end_of_box|>"))
