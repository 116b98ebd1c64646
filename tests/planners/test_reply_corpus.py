"""Every reply of the corpus in tests/replies/corpus.py through the real parse path: the text
protocol (agent.planners.interpret), GLM's tool-call text (agent.planners.glm_tools.interpret_tools) and OpenAI
tool_calls (ToolsPlanner, as a live reply is read).

70 replies (52 in the text protocol, 13 as tool-call text, 5 as tool_calls; 14 to be refused):
from zai-org/GLM-V 25 (its GLM-4.5V agent example agent.md 5, verifier tests glmv_reward/tests/cogagent 14,
the point forms and the restated answer of its README 5, the GLM-4.1V example's <answer> form 1) and its
issues #79, #118, #133, #243 (4); vLLM's glm45 reasoning parser tests 5 and tool parser tests 4; SGLang's
Glm4MoeDetector tests 3 and a port of them (alibaba/rtp-llm) 7; the forms OSWorld-V2's GLM agent handles,
as its port in cua-speedrun documents them, 17; the official agent's bare-call fallback 1; trycua/cua's
GLM-4.5V loop 1; hud-python's GLM agent 3. Each entry says whether it is the source's string verbatim
(20), the model's text from the source put in this protocol's form or tool names (17), or invented in a
shape the source shows (33). On the parser before issue #12, 7 of them led to a wrong action, 8 meant
replies were refused and 5 carried junk into the memory.
"""

from collections import Counter

import pytest

from agent.core.errors import FormatError
from agent.core.planner import Reply
from agent.planners.glm import interpret
from agent.planners.glm_tools import ToolsConfig, ToolsPlanner, interpret_tools
from tests.replies.corpus import CORPUS


def read(entry: dict):
    reply = Reply(entry.get("content", ""), entry.get("reasoning") or "", finish_reason=entry.get("finish_reason"))
    if entry["dialect"] == "text":
        return interpret(reply)
    if entry["dialect"] == "tool text":
        return interpret_tools(reply)
    planner = ToolsPlanner(ToolsConfig(base_url="http://127.0.0.1:9/v1", api_key="unused"))
    received = [{"id": f"call_{n}", "type": "function", "function": call} for n, call in enumerate(entry["tool_calls"])]
    reading = planner._read(reply, received)
    if reading.error:
        raise reading.error
    return reading.decision


@pytest.mark.parametrize("entry", CORPUS, ids=[entry["id"] for entry in CORPUS])
def test_each_reply_is_read_as_meant_or_refused_with_a_reason(entry):
    if "error" in entry:
        with pytest.raises(FormatError, match=entry["error"]) as caught:
            read(entry)
        assert "\n" not in str(caught.value) and caught.value.reply is not None
        return
    decision = read(entry)
    assert [action.call() for action in decision.actions] == entry["actions"]
    for field in ("memory", "explanation", "call_text"):
        if field in entry:
            assert getattr(decision, field) == entry[field], field


def test_the_corpus_is_large_and_every_entry_names_its_source():
    assert len(CORPUS) >= 40 and len({entry["id"] for entry in CORPUS}) == len(CORPUS)
    assert all(entry["source"] and entry["kind"] in ("real", "adapted", "invented") for entry in CORPUS)
    assert all(("actions" in entry) != ("error" in entry) for entry in CORPUS)
    kinds = Counter(entry["kind"] for entry in CORPUS)
    assert kinds["real"] >= 15  # verbatim strings, not only shapes
