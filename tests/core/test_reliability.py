"""Retries on a flaky endpoint, budgets, stuck detection, confirmation, secrets and resume:
the loop with a fake screen, a recording computer and the fault-injecting loopback endpoint."""

import time
from pathlib import Path

import pytest

from agent.core.confirm import ConfirmationPolicy, Confirmer, load_policy
from agent.core.episode import EpisodeWriter, read_episode
from agent.core.errors import AgentError
from agent.core.executors import RecordingComputer, SecretTyping
from agent.core.geometry import Monitor
from agent.core.loop import Agent, Limits
from agent.planners.glm import GLMConfig, GLMPlanner
from tests.support.endpoint import ScriptedEndpoint
from tests.support.fakes import FakeScreen

MONITOR = Monitor(0, 0, 1366, 768)


def text_of(request) -> str:
    return "".join(part.get("text", "") for part in request["messages"][0]["content"])


def run(out: Path, replies, limits: Limits | None = None, still=False, retries=8, computer=None, confirmer=None,
        task="Press OK", resume_from=None, restore=None):
    computer = computer or RecordingComputer(MONITOR)
    with ScriptedEndpoint(replies) as endpoint:
        planner = GLMPlanner(GLMConfig(base_url=endpoint.url, api_key="sk-test", timeout=0.5, max_retries=retries,
                                       backoff=0.01, backoff_cap=0.5))
        if restore:
            planner.restore(restore)
        agent = Agent(task, planner, computer, FakeScreen(1366, 768, still=still),
                      EpisodeWriter(out, resume=resume_from is not None), limits=limits,
                      confirmer=confirmer, resume_from=resume_from)
        started = time.monotonic()
        status, message = agent.run()
        seconds = time.monotonic() - started
    return status, message, computer, read_episode(out), endpoint, seconds


FAULTS = [{"status": 500}, {"status": 503}, {"status": 429, "headers": {"Retry-After": "0.3"}}, {"fault": "reset"},
          {"fault": "stall", "seconds": 1.5}, {"status": 200, "body": "<html>not json</html>"},
          {"status": 200, "body": {"id": "x", "object": "chat.completion", "choices": []}},
          {"content": "I will left_click(start_box='[50", "finish_reason": "length"}]


def test_every_fault_is_retried_and_logged_then_the_run_goes_on(tmp_path):
    status, _, computer, episode, endpoint, _ = run(tmp_path / "run", FAULTS + ["left_click(start_box='[1,1]')",
                                                                                 "DONE()"])
    assert status == "done" and endpoint.exhausted
    attempts = episode.steps[0]["attempts"]
    assert len(attempts) == len(FAULTS)
    errors = " | ".join(a["error"] for a in attempts)
    for expected in ["HTTP 500", "HTTP 503", "HTTP 429", "cannot reach", "within 0.5 s", "not a chat completion",
                     "no choices", "cut off at the token limit"]:
        assert expected in errors
    assert attempts[2]["wait"] >= 0.3  # Retry-After honoured
    assert all(0 < a["wait"] <= 0.5 for a in attempts)  # bounded backoff
    assert computer.calls == [("click", (2, 1), "left", 1)]
    print(f"faults injected: {len(FAULTS)}, survived: {len(attempts)} (the run then went on and ended done)")


def test_with_faults_only_the_run_ends_endpoint_error_within_its_bounds(tmp_path):
    status, message, computer, episode, endpoint, seconds = run(tmp_path / "run", [{"status": 502}] * 4, retries=3)
    assert status == "endpoint_error" and "gave up after 4 attempts" in message and endpoint.exhausted
    assert len(episode.steps[0]["attempts"]) == 4 and episode.end["status"] == "endpoint_error"
    assert seconds < 3 and computer.calls == []


def test_an_error_that_retrying_cannot_fix_is_not_retried(tmp_path):
    status, message, *_ = run(tmp_path / "run", [{"status": 401}, "DONE()"])
    assert status == "endpoint_error" and "refused the API key" in message


def test_the_same_action_on_an_unchanged_screen_is_told_then_stops_the_run(tmp_path):
    click = "left_click(start_box='[10,10]', element_info='Frozen button')"
    status, message, computer, episode, endpoint, _ = run(tmp_path / "run", [click] * 4, still=True)
    assert status == "stuck" and endpoint.exhausted
    assert [s["outcome"] for s in episode.steps] == ["ok", "ok", "not_repeated", "stuck"]
    assert len(computer.calls) == 2
    assert "3 times and the screen did not change" in text_of(endpoint.requests[3])


def test_waiting_on_a_still_screen_is_not_stuck(tmp_path):
    status, *_ = run(tmp_path / "run", ["WAIT()"] * 5 + ["DONE()"], still=True)
    assert status == "done"


def test_time_and_token_budgets_end_the_run_with_their_own_status(tmp_path):
    slow = lambda request: (time.sleep(0.2), "WAIT()")[1]  # noqa: E731
    status, message, _, episode, *_ = run(tmp_path / "a", [slow] * 10, limits=Limits(seconds=0.5))
    assert status == "time_limit" and 2 <= len(episode.steps) <= 4
    status, message, _, episode, *_ = run(tmp_path / "b", ["WAIT()"] * 5, limits=Limits(tokens=2000))
    assert status == "token_limit" and len(episode.steps) == 2 and "2100 tokens used" in message


def test_an_action_that_needs_a_yes_is_refused_and_the_model_is_told(tmp_path):
    replies = ["key(keys='alt+F4')", "left_click(start_box='[5,5]', element_info='Delete account button')",
               "left_click(start_box='[6,6]', element_info='Save')", "DONE()"]
    asked = []
    confirmer = Confirmer("ask", ask=lambda question: asked.append(question) or False)
    status, _, computer, episode, endpoint, _ = run(tmp_path / "run", replies, confirmer=confirmer)
    assert status == "done" and len(asked) == 2
    assert [s["outcome"] for s in episode.steps[:3]] == ["refused", "refused", "ok"]
    assert computer.calls == [("click", (8, 4), "left", 1)]
    assert "The user refused key(keys='alt+f4')" in text_of(endpoint.requests[1])


def test_headless_runs_stop_at_an_action_to_confirm_unless_told_yes(tmp_path):
    no_one = Confirmer("ask", ask=lambda question: None)
    status, message, computer, *_ = run(tmp_path / "a", ["key(keys='ctrl+q')", "DONE()"], confirmer=no_one)
    assert status == "needs_confirmation" and "--yes" in message and computer.calls == []
    yes = Confirmer("ask", assume_yes=True, ask=lambda question: pytest.fail("asked despite --yes"))
    status, *_, = run(tmp_path / "b", ["key(keys='ctrl+q')", "DONE()"], confirmer=yes)[:1]
    assert status == "done"
    always = Confirmer("always", ask=lambda question: None)
    assert run(tmp_path / "c", ["key(keys='a')"], confirmer=always)[0] == "needs_confirmation"
    never = Confirmer("never", ask=lambda question: pytest.fail("asked with --confirm never"))
    assert run(tmp_path / "d", ["key(keys='alt+f4')", "DONE()"], confirmer=never)[0] == "done"


def test_typing_risky_words_needs_a_yes_only_in_a_terminal():
    policy = ConfirmationPolicy()
    from agent.core.actions import TypeText
    assert policy.reason(TypeText(content="sudo rm -rf /tmp/x"), "XTerm")
    assert policy.reason(TypeText(content="sudo rm -rf /tmp/x"), None)  # unknown window: ask
    assert policy.reason(TypeText(content="sudo rm -rf /tmp/x"), "Mousepad") is None
    assert policy.reason(TypeText(content="confirm the format"), "XTerm") is None  # words, not substrings


@pytest.mark.parametrize("keys", ["ctrl+alt+f1", "ctrl+alt+f7", "ctrl+alt+t", "alt+f2", "CTRL+ALT+T"])
def test_chords_that_leave_the_desktop_or_open_a_shell_need_a_yes(keys):
    from agent.core.actions import Key
    assert ConfirmationPolicy().reason(Key(keys=keys), None)
    assert ConfirmationPolicy().reason(Key(keys="ctrl+alt+a"), None) is None


@pytest.mark.parametrize("typed", ['"r"m -rf ~', "r\\m -rf ~", "'sudo' ls", "find ~ -delete", "shred -u notes.txt",
                                   "killall Xvfb"])
def test_quoting_does_not_hide_a_risky_word_typed_into_a_terminal(typed):
    from agent.core.actions import TypeText
    assert ConfirmationPolicy().reason(TypeText(content=typed), "XTerm")
    assert ConfirmationPolicy().reason(TypeText(content=typed), "Mousepad") is None


def test_a_policy_file_replaces_the_default(tmp_path):
    file = tmp_path / "policy.toml"
    file.write_text('chords = ["ctrl+s"]\nelement_words = ["publish"]\n')
    policy = load_policy(file)
    from agent.core.actions import Click, Key
    assert policy.reason(Key(keys="ctrl+s"), None) and policy.reason(Key(keys="alt+f4"), None) is None
    assert policy.reason(Click(point=(1, 1), element_info="Publish post"), None)
    file.write_text("chords = 3")
    with pytest.raises(AgentError, match="cannot use the confirmation policy"):
        load_policy(file)


def test_secrets_are_typed_but_never_written(tmp_path):
    computer = SecretTyping(RecordingComputer(MONITOR), {"PASSWORD": "hunter2-secret"})
    status, *_ = run(tmp_path / "run", ["Type it. type(content='{{PASSWORD}}')", "type(content='{{OTHER}}')",
                                        "DONE()"], computer=computer, task="Log in with {{PASSWORD}}")
    assert status == "done"
    assert computer.computer.calls == [("type_text", "hunter2-secret")]
    episode = read_episode(tmp_path / "run")
    assert episode.steps[1]["outcome"] == "action_error" and "no secret named OTHER" in episode.steps[1]["error"]
    for file in (tmp_path / "run").iterdir():
        content = file.read_bytes()
        assert b"hunter2-secret" not in content and b"sk-test" not in content


def test_resume_continues_the_same_episode_with_history_and_memory(tmp_path):
    first = ["Open it. left_click(start_box='[1,1]')\nMemory:\n[{\"opened\": \"yes\"}]", "WAIT()"]
    status, _, _, episode, *_ = run(tmp_path / "run", first, limits=Limits(steps=2))
    assert status == "step_limit"
    resume_from = {"steps": 2, "tokens": 0}
    status, _, computer, episode, endpoint, _ = run(tmp_path / "run", ["key(keys='enter')", "DONE()"],
                                                    limits=Limits(steps=5), resume_from=resume_from,
                                                    restore=episode)
    assert status == "done"
    assert [s["index"] for s in episode.steps] == [1, 2, 3, 4] and episode.end["status"] == "done"
    text = text_of(endpoint.requests[0])
    assert "step 1: Screenshot:" in text and "Action: left_click(start_box='[1,1]'" in text
    assert "Memory:\n[{\"opened\": \"yes\"}]" in text
    assert len([p for p in endpoint.requests[0]["messages"][0]["content"] if p["type"] == "image_url"]) == 3


def test_an_endpoint_that_trickles_its_reply_is_given_up_at_the_timeout(tmp_path):
    trickle = {"fault": "trickle", "interval": 0.1}  # each byte in time for a per-read timeout; the reply never ends
    status, message, computer, episode, endpoint, seconds = run(tmp_path / "run", [trickle] * 2, retries=1)
    assert status == "endpoint_error" and "did not finish its reply within 0.5 s" in message
    assert seconds < 4 and computer.calls == []


B, E = "<|begin_of_box|>", "<|end_of_box|>"  # invented replies below


@pytest.mark.parametrize("reply, problem", [
    (B + " ".join(["key(keys='tab')"] * 11) + E, "asks for 11 actions; give at most 10"),
    (f"{B}key(keys='tab'){E}\nMemory:\n" + '[{"note": "' + "x" * 5000 + '"}]', "keep it under 4000"),
    ("I think. " * 20000 + f"{B}key(keys='tab'){E}", "more than 100000"),
])
def test_replies_beyond_any_real_size_are_refused_and_kept_bounded(reply, problem, tmp_path):
    status, message, computer, episode, *_ = run(tmp_path / "run", [reply] * 3)
    assert status == "format_errors" and problem in message and computer.calls == []
    assert all(len(step.get("raw", "")) <= 100_010 for step in episode.steps)


def test_a_reply_nested_too_deep_is_a_bad_reply_not_a_crash(tmp_path):
    nested = {"status": 200, "body": '{"choices": ' + "[" * 100_000 + "]" * 100_000 + "}"}
    status, message, *_ = run(tmp_path / "run", [nested] * 2, retries=1)
    assert status == "endpoint_error" and "not a chat completion" in message
