"""`gui-agent mcp` driven by the MCP SDK's own client, over stdio and streamable HTTP, against Xvfb and
the demo form: what the tools did is checked in the form's record, what was kept in the episode."""

import base64
import json
import re
import signal
import socket
import stat
import struct
import subprocess
import sys
import threading
import time
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import anyio
import cv2
import httpx2
import numpy as np
import pytest
from anyio.from_thread import start_blocking_portal
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import get_default_environment, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import ElicitResult

from agent.core.episode import read_episode
from agent.core.ocr import OCR
from agent.core.screen import Screen
from sandbox.session import PROJECT_ROOT, XSession
from tests.support.real_apps import paced_as_a_calculator
from tests.support.scenarios import HEIGHT, WIDTH, centre, gui_agent

pytestmark = pytest.mark.xvfb  # every test here starts an X server
GUI_AGENT = [sys.executable, "-m", "agent"]
TOOLS = {"screenshot", "click", "move", "drag", "scroll", "type_text", "press_keys", "find_text", "run_task"}
SECRET = "Hunter2Secret"
POLICY = 'chords = ["alt+f4", "ctrl+Return"]\n'  # ctrl+Return submits the form: harmless, and easy to check


class Client:
    """The SDK's ClientSession on a `gui-agent mcp`, for plain test functions (through an anyio portal)."""

    def __init__(self, portal, session: ClientSession, out: Path):
        self.portal, self.session, self.out = portal, session, out
        self.texts: list[str] = []  # every text result and error, to look for a secret in

    def list_tools(self) -> dict:
        return {tool.name: tool for tool in self.portal.call(self.session.list_tools).tools}

    def call(self, tool: str, **arguments):
        result = self.portal.call(self.session.call_tool, tool, arguments)
        self.texts += [content.text for content in result.content if content.type == "text"]
        return result

    def ok(self, tool: str, **arguments) -> str:
        result = self.call(tool, **arguments)
        assert not result.is_error, text_of(result)
        return text_of(result)

    def error(self, tool: str, **arguments) -> str:
        result = self.call(tool, **arguments)
        assert result.is_error, text_of(result)
        message = text_of(result)
        assert "\n" not in message and "Traceback" not in message, message
        return message


def text_of(result) -> str:
    return "\n".join(content.text for content in result.content if content.type == "text")


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@contextmanager
def connected(transport, out: Path, **options):
    """A ClientSession(**options), initialised, over `transport` (an async context manager of the two streams)."""
    @asynccontextmanager
    async def session():
        async with transport() as (read, write), ClientSession(read, write, **options) as client:
            await client.initialize()
            yield client

    with start_blocking_portal() as portal, portal.wrap_async_context_manager(session()) as client:
        yield Client(portal, client, out)


@contextmanager
def stdio_server(x: XSession, out: Path, *options: str, **client_options):
    """`gui-agent mcp` over stdio, started by the SDK's stdio client; its stderr in OUT.log."""
    parameters = StdioServerParameters(command=GUI_AGENT[0], cwd=PROJECT_ROOT, env=x.env, args=[
        *GUI_AGENT[1:], "mcp", "--display", x.display, "--out", str(out), *options])
    with open(out.with_suffix(".log"), "w") as errors:
        with connected(lambda: stdio_client(parameters, errlog=errors), out, **client_options) as client:
            yield client


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


TOKEN = "test-token-0123456789abcdef"


class HttpServer:
    """A `gui-agent mcp --http PORT` process, its URL and its stderr (in server.log)."""

    def __init__(self, process: subprocess.Popen, port: int, log: Path):
        self.process, self.url, self.log = process, f"http://127.0.0.1:{port}/mcp", log

    def client(self, out: Path, token: str = TOKEN, **options):
        """A connected SDK client, ClientSession(**options), that sends this bearer token (None: none)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=300))
        return connected(lambda: streamable_http_client(self.url, http_client=client), out, **options)


@contextmanager
def http_server(x: XSession, folder: Path, *options: str, token_file: bool = True, token_mode: int = 0o600):
    """`gui-agent mcp --http` with the bearer token TOKEN (from --token-file), ready for clients."""
    port, log = free_port(), folder / "server.log"
    folder.mkdir(exist_ok=True)
    if token_file:
        (folder / "token").write_text(TOKEN + "\n")
        (folder / "token").chmod(token_mode)
        options = ("--token-file", str(folder / "token"), *options)
    with open(log, "w") as errors:
        process = subprocess.Popen([*GUI_AGENT, "mcp", "--http", str(port), "--display", x.display,
                                    "--out", str(folder / "session"), *options], env=x.env, cwd=PROJECT_ROOT,
                                   stdin=subprocess.DEVNULL, stdout=errors, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while "serving display" not in log.read_text():
                assert process.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            yield HttpServer(process, port, log)
        finally:
            process.kill()


@pytest.fixture(scope="module")
def desktop():
    """One Xvfb display with the demo form for the module; each test sets the fields it checks."""
    with XSession(WIDTH, HEIGHT) as x:
        app = x.launch("form", geometry="700x560+40+30")
        app.wait_ready()
        yield x, app


@pytest.fixture(scope="module")
def server(desktop, tmp_path_factory):
    """One server for the module, as a host would start it: without --yes, with a secret, the embedded planner."""
    x, _ = desktop
    folder = tmp_path_factory.mktemp("mcp")
    (folder / "policy.toml").write_text(POLICY)
    with stdio_server(x, folder / "session", "--secret", f"PASSWORD={SECRET}", "--confirm-policy",
                      str(folder / "policy.toml"), "--model", "local") as client:
        yield client


def widget_centre(app, name: str) -> dict:
    x, y = centre(app.record()["widgets"][name])
    return {"x": int(x), "y": int(y)}


def fill(client: Client, app, widget: str, text: str) -> None:
    """Replaces the field's text: a triple click selects what is there, typing replaces it."""
    client.ok("click", **widget_centre(app, widget), count=3)
    client.ok("type_text", text=text)


def clicks_on(app, widget: str) -> list[dict]:
    return [event for event in app.record()["events"] if event["event"] == "click" and event["widget"] == widget]


def submits(app) -> list[dict]:
    return [event for event in app.record()["events"] if event["event"] == "submit"]


def test_list_tools_gives_every_tool_with_its_schema(server):
    tools = server.list_tools()
    assert set(tools) == TOOLS
    click = tools["click"].input_schema
    assert click["required"] == ["x", "y"] and click["properties"]["button"]["enum"] == ["left", "right", "middle"]
    assert (click["properties"]["count"]["minimum"], click["properties"]["count"]["maximum"]) == (1, 3)
    assert tools["scroll"].input_schema["properties"]["direction"]["enum"] == ["up", "down", "left", "right"]
    assert tools["drag"].input_schema["required"] == ["start_x", "start_y", "end_x", "end_y"]
    assert tools["press_keys"].input_schema["required"] == ["keys"]
    assert {name for name, tool in tools.items() if tool.annotations.read_only_hint} == {"screenshot", "find_text"}
    assert all(tool.description for tool in tools.values())


def test_screenshot_is_a_png_of_the_whole_display(server):
    result = server.call("screenshot")
    image, = [content for content in result.content if content.type == "image"]
    assert image.mime_type == "image/png"
    assert png_size(base64.b64decode(image.data)) == (WIDTH, HEIGHT)
    assert f"{WIDTH}x{HEIGHT}" in text_of(result)


def test_click_and_type_text_fill_the_name_field(server, desktop):
    _, app = desktop
    clicks = len(clicks_on(app, "name_entry"))
    fill(server, app, "name_entry", "Ada Lovelace")
    app.wait_until(lambda r: r["state"]["name"] == "Ada Lovelace", 5, "the typed name")
    assert len(clicks_on(app, "name_entry")) > clicks


def test_press_keys_reach_the_focused_field(server, desktop):
    _, app = desktop
    fill(server, app, "name_entry", "Ada")
    app.wait_until(lambda r: r["state"]["name"] == "Ada", 5)
    server.ok("press_keys", keys="backspace")
    app.wait_until(lambda r: r["state"]["name"] == "Ad", 5, "a backspace")
    server.ok("press_keys", keys=["shift", "a"])
    app.wait_until(lambda r: r["state"]["name"] == "AdA", 5, "shift+a")


def test_find_text_finds_labels_where_the_form_draws_them(server, desktop):
    _, app = desktop
    widgets = app.record()["widgets"]
    best = json.loads(server.ok("find_text", text="Subscribe"))["found"][0]
    x, y, width, height = widgets["subscribe"]
    assert best["text"] == "Subscribe" and x <= best["centre"][0] < x + width and y <= best["centre"][1] < y + height
    label = json.loads(server.ok("find_text", text="email"))["found"][0]  # the label, left of its field
    x, y, width, height = widgets["email_entry"]
    assert label["text"] == "Email" and label["box"][2] <= x and y <= label["centre"][1] < y + height
    nothing = json.loads(server.ok("find_text", text="Quantum flux capacitor"))
    assert nothing["found"] == [] and nothing["closest"]


def test_a_point_off_the_display_is_a_tool_error_and_nothing_is_done(server, desktop):
    _, app = desktop
    events = len(app.record()["events"])
    for tool, point in [("click", {"x": WIDTH, "y": 10}), ("click", {"x": -1, "y": 10}),
                        ("move", {"x": 5, "y": HEIGHT}), ("scroll", {"x": 99999, "y": 5, "direction": "down"})]:
        assert "off the screen" in server.error(tool, **point)
    start = widget_centre(app, "volume_handle")
    assert "off the screen" in server.error("drag", start_x=start["x"], start_y=start["y"], end_x=WIDTH + 5,
                                            end_y=start["y"])
    time.sleep(0.3)
    assert len(app.record()["events"]) == events and app.record()["state"]["volume"] == 50


def test_bad_arguments_are_one_line_tool_errors(server):
    assert "unknown key 'nosuchkey'" in server.error("press_keys", keys="ctrl+nosuchkey")
    assert "argument button" in server.error("click", x=5, y=5, button="sideways")
    assert "no secret named NOSUCH" in server.error("type_text", text="{{NOSUCH}}")


def test_an_action_the_policy_matches_is_refused_without_yes(server, desktop):
    _, app = desktop
    before = len(submits(app))
    server.ok("click", **widget_centre(app, "name_entry"))
    message = server.error("press_keys", keys="ctrl+Return")
    assert "needs a yes" in message and "--yes" in message
    time.sleep(0.3)
    assert len(submits(app)) == before


def test_with_yes_the_policy_allows_it(desktop, tmp_path):
    x, app = desktop
    (tmp_path / "policy.toml").write_text(POLICY)
    before = len(submits(app))
    with stdio_server(x, tmp_path / "session", "--yes", "--confirm-policy", str(tmp_path / "policy.toml")) as client:
        client.ok("click", **widget_centre(app, "name_entry"))
        client.ok("press_keys", keys="ctrl+Return")
    app.wait_until(lambda r: len(submits(app)) == before + 1, 5, "the submit")
    assert submits(app)[-1]["via"] == "ctrl+Return"


def test_a_client_that_can_ask_puts_the_policys_question_to_its_user(desktop, tmp_path):
    x, app = desktop
    (tmp_path / "policy.toml").write_text(POLICY)
    questions, answers = [], [True, False, False]

    async def user(context, params):
        questions.append(params.message)
        return ElicitResult(action="accept", content={"allow": answers.pop(0)})

    before = len(submits(app))
    with stdio_server(x, tmp_path / "session", "--confirm-policy", str(tmp_path / "policy.toml"),
                      elicitation_callback=user) as client:
        client.ok("click", **widget_centre(app, "name_entry"))
        client.ok("press_keys", keys="ctrl+Return")
        app.wait_until(lambda r: len(submits(app)) == before + 1, 5, "the submit the user allowed")
        assert "The user refused" in client.error("press_keys", keys="ctrl+Return")
        time.sleep(0.3)
        assert len(submits(app)) == before + 1
    with stdio_server(x, tmp_path / "always", "--confirm", "always", elicitation_callback=user) as client:
        assert "The user refused" in client.error("click", x=300, y=200)
    assert len(questions) == 3 and "key(keys='ctrl+enter')" in questions[0]
    assert f"display {x.display}, window " in questions[0] and "screen pixel (300, 200)" in questions[2]
    steps = read_episode(tmp_path / "session").steps
    assert [s["outcome"] for s in steps] == ["ok", "ok", "action_error"]


def read_all(pixels) -> str:
    """Every text OCR reads, run together in lower case."""
    return "".join(line.text for line in OCR().read(pixels)).replace(" ", "").lower()


def test_a_secret_is_typed_but_never_shown_or_written(server, desktop, monkeypatch):
    x, app = desktop
    monkeypatch.setenv("XAUTHORITY", x.env["XAUTHORITY"])
    fill(server, app, "email_entry", "{{PASSWORD}}")
    app.wait_until(lambda r: r["state"]["email"] == SECRET, 5, "the secret typed")
    assert SECRET.lower() in read_all(Screen(x.display).capture().pixels)  # on the display, OCR reads it
    image, = [content for content in server.call("screenshot").content if content.type == "image"]
    png = base64.b64decode(image.data)
    assert SECRET.lower() not in read_all(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR))
    assert json.loads(server.ok("find_text", text=SECRET))["found"] == []
    assert not any(SECRET in text for text in server.texts)
    episode = server.out / "episode.jsonl"
    assert SECRET.encode() not in episode.read_bytes() and "{{PASSWORD}}" in episode.read_text()
    assert png in [path.read_bytes() for path in server.out.glob("step-*.png")]  # the step keeps what was sent


def test_the_stop_keys_cut_the_action_under_way_and_the_server_goes_on(server, desktop):
    x, app = desktop
    text = "x" * 3000
    with paced_as_a_calculator(x, "Demo Form"):  # a repeated key waits for the app: the stop comes mid-text
        for _ in range(2):  # the second stop shows the stop keys are armed again
            server.ok("click", **widget_centre(app, "name_entry"), count=3)
            server.ok("press_keys", keys="backspace")
            app.wait_until(lambda r: r["state"]["name"] == "", 5, "an empty name")
            typing = server.portal.start_task_soon(server.session.call_tool, "type_text", {"text": text})
            app.wait_until(lambda r: len(r["state"]["name"]) > 5, 30, "typing to start")
            subprocess.run(["xdotool", "key", "ctrl+alt+shift+q"], env=x.env, check=True)
            result = typing.result(timeout=10)
            assert result.is_error and "stopped: the stop keys were pressed" in text_of(result)
            time.sleep(0.5)
            assert len(app.record()["state"]["name"]) < len(text)
    assert not server.call("screenshot").is_error
    cut = [s for s in read_episode(server.out).steps if s["call"] == f"type_text(text={text!r})"]
    assert [(s["outcome"], s["cut"]) for s in cut] == [("interrupted", "during")] * 2 and cut[-1]["typed"] < len(text)


def test_run_task_with_the_embedded_planner_completes_a_form_task(server, desktop):
    _, app = desktop
    fill(server, app, "name_entry", "Ada")  # the planner finds no field in one that text fills
    result = json.loads(server.ok("run_task", task='type "Grace Hopper" into Name'))
    assert result["status"] == "done" and result["steps"] >= 1
    app.wait_until(lambda r: r["state"]["name"] == "Grace Hopper", 5, "the name the task typed")
    task = read_episode(result["episode"])
    assert Path(result["episode"]).parent == server.out and task.end["status"] == "done"
    message = server.error("run_task", task="tick {{UNKNOWN}}")
    assert "no secret UNKNOWN" in message


def test_the_session_episode_reads_back_and_gui_agent_report_shows_it(desktop, tmp_path):
    x, app = desktop
    with stdio_server(x, tmp_path / "session") as client:
        client.ok("screenshot")
        fill(client, app, "name_entry", "Report")
        client.error("click", x=-5, y=5)
        client.error("press_keys", keys="alt+f4")
    episode = read_episode(tmp_path / "session")
    assert episode.header["planner"] == "mcp" and episode.header["screen"]["width"] == WIDTH
    tools = [s["call"].split("(")[0] for s in episode.steps]
    assert tools == ["screenshot", "click", "type_text", "click", "press_keys"]
    assert [s["outcome"] for s in episode.steps] == ["ok", "ok", "ok", "action_error", "needs_confirmation"]
    assert episode.steps[1]["screen"]["point"] == list(widget_centre(app, "name_entry").values())
    assert episode.end["status"] == "done" and episode.end["steps"] == 5
    report = gui_agent("report", str(tmp_path / "session"), env=x.env)
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "session" / "report.html").read_text()
    assert page.count('<section class="step outcome-') == 5 and "type_text(text=&#x27;Report&#x27;)" in page


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_over_http_a_client_is_served_and_a_signal_ends_the_server_cleanly(signum, desktop, tmp_path):
    x, app = desktop
    out = tmp_path / "session"
    with http_server(x, tmp_path) as server:
        with server.client(out) as client:
            assert set(client.list_tools()) == TOOLS
            image, = [c for c in client.call("screenshot").content if c.type == "image"]
            assert png_size(base64.b64decode(image.data)) == (WIDTH, HEIGHT)
            fill(client, app, "name_entry", "Over HTTP")
            app.wait_until(lambda r: r["state"]["name"] == "Over HTTP", 5, "the name typed over HTTP")
        server.process.send_signal(signum)
        assert server.process.wait(timeout=15) == 0
    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log, log
    episode = read_episode(out)
    assert episode.end["status"] == "interrupted" and signal.Signals(signum).name in episode.end["message"]
    assert len(episode.steps) == 3


def test_sigterm_during_run_task_ends_the_task_and_the_session_cleanly(desktop, tmp_path):
    x, app = desktop
    out = tmp_path / "session"
    with http_server(x, tmp_path, "--model", "local") as server:
        def terminate_once_typing():
            app.wait_until(lambda r: "w" * 5 in r["state"]["name"], 30, "the task to start typing")
            server.process.send_signal(signal.SIGTERM)

        # a repeated key waits for the app: SIGTERM comes mid-text
        with paced_as_a_calculator(x, "Demo Form"), server.client(out) as client:
            fill(client, app, "name_entry", "x")
            terminating = threading.Thread(target=terminate_once_typing)
            terminating.start()
            try:
                assert client.call("run_task", task=f'type "{"w" * 500}" into Name').is_error
            except Exception:  # or the server ended before its answer got through
                pass
            terminating.join()
            assert server.process.wait(timeout=15) == 0
    assert "Traceback" not in (tmp_path / "server.log").read_text()
    assert len(app.record()["state"]["name"]) < 500  # cut short
    session, task = read_episode(out), read_episode(out / "task-001")
    assert session.end["status"] == "interrupted" and "SIGTERM" in session.end["message"]
    assert task.end["status"] == "interrupted" and session.steps[-1]["outcome"] == "error"


def post(url: str, **headers: str) -> httpx2.Response:
    """A JSON-RPC tools/call of `click`, as plain curl would send it."""
    call = {"jsonrpc": "2.0", "id": 1} | tool_call("click", x=5, y=5)
    return httpx2.post(url, json=call, headers={"Accept": "application/json, text/event-stream"} | headers)


def test_over_http_nothing_is_done_without_the_bearer_token(desktop, tmp_path):
    x, app = desktop
    events = len(app.record()["events"])
    with http_server(x, tmp_path) as server:
        for headers in [{}, {"Authorization": "Bearer wrong-token-0123456789ab"}, {"Authorization": TOKEN},
                        {"Authorization": f"bearer {TOKEN}x"}]:
            assert post(server.url, **headers).status_code == 401
        assert post(server.url, Authorization=f"Bearer {TOKEN}", Host="evil.example:80").status_code == 421
        with pytest.raises(Exception):  # noqa: B017 (whichever error the client raises on a refused connection)
            with server.client(tmp_path / "session", token=None):
                pass
        with server.client(tmp_path / "session") as client:  # the right token: served
            assert set(client.list_tools()) == TOOLS
    time.sleep(0.3)
    assert len(app.record()["events"]) == events
    assert [s["call"].split("(")[0] for s in read_episode(tmp_path / "session").steps] == []


def test_a_bad_token_file_is_a_one_line_error_and_an_open_one_a_warning(desktop, tmp_path):
    x, _ = desktop
    (tmp_path / "short").write_text("abc\n")
    for token_file, problem in [(tmp_path / "short", "16 or more printable"), (tmp_path / "none", "cannot read")]:
        result = gui_agent("mcp", "--http", str(free_port()), "--display", x.display, "--token-file", str(token_file),
                           "--out", str(tmp_path / "session"), env=x.env)
        output = result.stdout + result.stderr
        assert result.returncode == 1 and problem in output and len(output.splitlines()) == 1, output
    for mode in (0o600, 0o644):
        with http_server(x, tmp_path / oct(mode), token_mode=mode) as server:
            assert ("warning: others than you can read --token-file" in server.log.read_text()) == (mode == 0o644)


def test_over_http_a_token_is_made_per_start_shown_once_and_kept_in_a_private_file(desktop, tmp_path, monkeypatch):
    x, _ = desktop
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    x.env["XDG_RUNTIME_DIR"] = str(runtime)
    try:
        with http_server(x, tmp_path, token_file=False) as server:
            log = server.log.read_text()
            token = re.search(r"Authorization: Bearer ([\w-]+)", log).group(1)
            path = runtime / "gui-agent" / f"mcp-{server.url.split(':')[2].split('/')[0]}.token"
            assert path.read_text().strip() == token and len(token) >= 40 and log.count(token) == 2
            assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
            assert f"claude mcp add --transport http gui-agent {server.url}" in log
            assert post(server.url, Authorization=f"Bearer {TOKEN}").status_code == 401
            with server.client(tmp_path / "session", token=token) as client:
                assert not client.call("screenshot").is_error
            server.process.send_signal(signal.SIGTERM)
            assert server.process.wait(timeout=15) == 0
        assert not path.exists()  # removed when the server ends
    finally:
        del x.env["XDG_RUNTIME_DIR"]


def test_the_http_port_must_be_free(desktop, tmp_path):
    x, _ = desktop
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = subprocess.run([*GUI_AGENT, "mcp", "--http", str(taken.getsockname()[1]), "--display", x.display,
                                 "--out", str(tmp_path / "session")], env=x.env, cwd=PROJECT_ROOT,
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "cannot serve on 127.0.0.1" in result.stderr + result.stdout
    assert not (tmp_path / "session").exists()


def test_a_display_that_goes_away_gives_tool_errors_and_the_server_ends_cleanly(tmp_path):
    x = XSession(WIDTH, HEIGHT).start()
    try:
        with stdio_server(x, tmp_path / "session") as client:
            client.ok("screenshot")
            xvfb = subprocess.run(["pgrep", "-f", f"Xvfb .*{x.xauthority}"], capture_output=True, text=True).stdout
            subprocess.run(["kill", "-9", *xvfb.split()], check=True)
            time.sleep(0.5)
            for message in [client.error("screenshot"), client.error("click", x=10, y=10)]:
                assert "display" in message and not message.rstrip().endswith(":")
                assert "is its X server still running?" in message  # the reason, not an empty one
    finally:
        x.stop()
    assert "Traceback" not in (tmp_path / "session.log").read_text()
    episode = read_episode(tmp_path / "session")
    assert [s["outcome"] for s in episode.steps] == ["ok", "error", "error"] and episode.end["status"] == "done"


HELLO = [{"method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                                            "clientInfo": {"name": "test", "version": "1"}}},
         {"method": "notifications/initialized"}]


def tool_call(name: str, **arguments) -> dict:
    return {"method": "tools/call", "params": {"name": name, "arguments": arguments}}


def send(process: subprocess.Popen, number: int, request: dict) -> bool:
    """JSON-RPC request `number` (none for a notification) on the server's stdin; whether an answer is due."""
    answered = not request["method"].startswith("notifications/")
    process.stdin.write(json.dumps({"jsonrpc": "2.0"} | ({"id": number} if answered else {}) | request) + "\n")
    process.stdin.flush()
    return answered


def speak_json_rpc(env: dict, *options: str) -> tuple[list[str], str]:
    """`gui-agent mcp` over stdio spoken to line by line (initialize, tools/list, a click): its stdout's lines
    and its stderr."""
    process = subprocess.Popen([*GUI_AGENT, "mcp", *options], env=env, cwd=PROJECT_ROOT, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    try:
        for number, request in enumerate([*HELLO, {"method": "tools/list"}, tool_call("click", x=5, y=5)]):
            if send(process, number, request):
                lines.append(process.stdout.readline())
                if not lines[-1]:  # the server ended
                    break
    except BrokenPipeError:
        pass
    out, errors = process.communicate(timeout=60)
    return [line for line in lines + out.splitlines() if line.strip()], errors


def test_over_stdio_nothing_but_json_rpc_reaches_stdout(desktop, tmp_path):
    x, _ = desktop
    broken = tmp_path / "Xauthority"
    broken.write_bytes(x.xauthority.read_bytes() + b"\x00\x01garbage")  # python-xlib warns, and reads the cookie
    lines, errors = speak_json_rpc(x.env | {"XAUTHORITY": str(broken)}, "--display", x.display,
                                   "--out", str(tmp_path / "session"))
    assert "Xlib.xauth: warning" in errors
    replies = [json.loads(line) for line in lines]
    assert [reply["jsonrpc"] for reply in replies] == ["2.0"] * 3 and replies[2]["result"]["isError"] is False
    lines, errors = speak_json_rpc(x.env, "--display", ":97", "--out", str(tmp_path / "nodisplay"))
    assert lines == [] and "cannot open display :97" in errors and "Traceback" not in errors
    for option, problem in [("--token-file", "--token-file goes with --http"), ("--secret", "is not NAME=VALUE")]:
        lines, errors = speak_json_rpc(x.env, option, "bad value")
        assert lines == [] and problem in errors


def test_the_readme_configuration_works_in_the_sdk_clients_default_environment(desktop, tmp_path):
    x, app = desktop
    parameters = StdioServerParameters(command=GUI_AGENT[0], cwd=PROJECT_ROOT, args=[  # env: the SDK's default
        *GUI_AGENT[1:], "mcp", "--display", x.display, "--xauthority", str(x.xauthority),
        "--out", str(tmp_path / "session")])
    assert "XAUTHORITY" not in get_default_environment() and "DISPLAY" not in get_default_environment()
    with open(tmp_path / "session.log", "w") as errors:
        with connected(lambda: stdio_client(parameters, errlog=errors), tmp_path / "session") as client:
            assert not client.call("screenshot").is_error


def pointer(x: XSession) -> tuple[int, int]:
    where = subprocess.run(["xdotool", "getmouselocation"], env=x.env, capture_output=True, text=True).stdout
    return tuple(int(part.split(":")[1]) for part in where.split()[:2])


def test_a_corner_is_refused_and_a_pointer_left_in_one_locks_nothing(desktop, tmp_path):
    x, app = desktop
    with stdio_server(x, tmp_path / "session") as client:
        client.ok("move", x=100, y=100)
        for corner in [(0, 0), (WIDTH - 1, 0), (0, HEIGHT - 1), (WIDTH - 1, HEIGHT - 1)]:
            assert "screen corner" in client.error("click", x=corner[0], y=corner[1])
            assert "screen corner" in client.error("drag", start_x=100, start_y=100, end_x=corner[0], end_y=corner[1])
            assert pointer(x) == (100, 100)
        subprocess.run(["xdotool", "mousemove", "0", "0"], env=x.env, check=True)  # the user's stop gesture
        assert "screen corner" in client.error("move", x=200, y=200)  # told once
        client.ok("move", x=200, y=200)
        assert pointer(x) == (200, 200)
        fill(client, app, "name_entry", "after a corner")
        app.wait_until(lambda r: r["state"]["name"] == "after a corner", 5, "typing after a corner")


def test_a_client_that_goes_away_during_run_task_stops_the_run(desktop, tmp_path):
    x, app = desktop
    out = tmp_path / "session"
    process = subprocess.Popen([*GUI_AGENT, "mcp", "--display", x.display, "--out", str(out), "--model", "local"],
                               env=x.env, cwd=PROJECT_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=open(tmp_path / "server.log", "w"), text=True)
    try:
        for number, request in enumerate([*HELLO, tool_call("click", **widget_centre(app, "name_entry"))]):
            if send(process, number, request):
                assert json.loads(process.stdout.readline())["id"] == number
        with paced_as_a_calculator(x, "Demo Form"):  # a repeated key waits for the app: the client goes mid-text
            send(process, 9, tool_call("run_task", task=f'type "{"w" * 500}" into Name'))
            app.wait_until(lambda r: "w" * 5 in r["state"]["name"], 30, "the task to start typing")
            process.stdin.close()  # the client goes away
            assert process.wait(timeout=20) == 0
    finally:
        process.kill()
    assert len(app.record()["state"]["name"]) < 400  # cut short
    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log, log
    session, task = read_episode(out), read_episode(out / "task-001")
    assert task.end["status"] == "interrupted" and "the client closed the connection" in task.end["message"]
    assert session.steps[-1]["outcome"] == "error" and session.end["status"] == "done"


CLIENT = """
import sys, anyio, httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

async def main(url, token, task):
    client = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(30, read=300))
    async with streamable_http_client(url, http_client=client) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        print("calling", flush=True)
        await session.call_tool("run_task", {"task": task})

anyio.run(main, *sys.argv[1:])
"""


def test_an_http_client_that_goes_away_during_run_task_stops_the_run(desktop, tmp_path):
    x, app = desktop
    out = tmp_path / "session"
    with http_server(x, tmp_path, "--model", "local") as server:
        with server.client(out) as client:
            fill(client, app, "name_entry", "x")
        with paced_as_a_calculator(x, "Demo Form"):  # a repeated key waits for the app: the client goes mid-text
            client_process = subprocess.Popen([sys.executable, "-c", CLIENT, server.url, TOKEN,
                                               f'type "{"w" * 500}" into Name'], env=x.env, stdout=subprocess.PIPE)
            try:
                app.wait_until(lambda r: "w" * 5 in r["state"]["name"], 30, "the task to start typing")
            finally:
                client_process.kill()  # gone without a word
            task = out / "task-001"
            deadline = time.monotonic() + 20
            while not (task.exists() and read_episode(task).end):
                assert time.monotonic() < deadline, "the run went on"
                time.sleep(0.2)
        assert read_episode(task).end["status"] == "interrupted"
        with server.client(out) as client:  # the server goes on
            assert not client.call("screenshot").is_error
    assert len(app.record()["state"]["name"]) < 400  # cut short


def test_escapes_and_direction_controls_are_shown_escaped_on_the_servers_console(desktop, tmp_path):
    x, _ = desktop
    hostile = "\x1b]2 owned\x07\x1b[2J\u202eevil\u2066"
    with stdio_server(x, tmp_path / "stdio", "--model", "local") as client:
        client.call("run_task", task=f"click {hostile}")
    with http_server(x, tmp_path) as server:
        port = int(server.url.split(":")[2].split("/")[0])
        for header in [b"Host: evil\x9b31m\xe2\x80\xae:80", b"Origin: http://evil\x9b2J\xe2\x81\xa6.example"]:
            with socket.create_connection(("127.0.0.1", port)) as connection:
                host = b"" if header.startswith(b"Host") else f"Host: 127.0.0.1:{port}\r\n".encode()
                connection.sendall(b"POST /mcp HTTP/1.1\r\n" + host + header + b"\r\nAuthorization: Bearer " +
                                   TOKEN.encode() + b"\r\nContent-Type: application/json\r\n"
                                   b"Accept: application/json, text/event-stream\r\nContent-Length: 2\r\n\r\n{}")
                assert connection.recv(100).split()[1] in (b"421", b"403")
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=15)
    log = (tmp_path / "stdio.log").read_text() + server.log.read_text()
    assert "Invalid Host header" in log and "Invalid Origin header" in log
    for raw in ["\x1b", "\x07", "\u202e", "\u2066", "\x9b"]:
        assert raw not in log, ascii(raw)
    assert "\\x1b]2 owned\\x07" in log and "\\u202eevil\\u2066" in log and "evil\\x9b31m" in log


def test_a_question_nobody_answers_does_not_hold_the_server(desktop, tmp_path):
    x, app = desktop
    (tmp_path / "policy.toml").write_text(POLICY)
    asked = threading.Event()

    async def absent_user(context, params):
        asked.set()
        await anyio.sleep(3600)

    before = len(submits(app))
    with http_server(x, tmp_path, "--confirm-policy", str(tmp_path / "policy.toml")) as server:
        with server.client(tmp_path / "session", elicitation_callback=absent_user) as client:
            client.ok("click", **widget_centre(app, "name_entry"))
            pressing = client.portal.start_task_soon(client.session.call_tool, "press_keys", {"keys": "ctrl+Return"})
            assert asked.wait(20)
            server.process.send_signal(signal.SIGTERM)
            assert server.process.wait(timeout=15) == 0
            pressing.cancel()
    assert "Traceback" not in server.log.read_text()
    time.sleep(0.3)
    assert len(submits(app)) == before
    episode = read_episode(tmp_path / "session")
    assert episode.end["status"] == "interrupted" and episode.steps[-1]["outcome"] == "needs_confirmation"
