"""The live view: the sandbox's display in a headless Chromium, on 127.0.0.1 only, and only with its password.

Chromium is driven over its DevTools pipe (`--remote-debugging-pipe`: JSON messages ending in a NUL
byte on fds 3 and 4), because a one-shot `--screenshot` (with `--timeout` or `--virtual-time-budget`
as well) is taken at page load, while noVNC still says "Connecting...".
"""

import base64
import fcntl
import http.server
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import pytest

from sandbox.session import SandboxError
from sandbox.view import LiveView, free_port
from tests.support import ROOT

pytestmark = pytest.mark.xvfb  # every test here starts an X server
CHROMIUM = "/usr/bin/chromium"
FORM_LABELS = {"Name", "Email", "Subscribe", "Submit"}
VNC_AUTHENTICATION = 2  # RFB security type; 1 would be "None"
CONNECTED = "document.documentElement.classList.contains('noVNC_connected')"
ASKS_FOR_PASSWORD = "document.getElementById('noVNC_credentials_dlg').classList.contains('noVNC_open')"


class Browser:
    """Headless Chromium with one page; `page(method, ...)` sends a DevTools command to it."""

    def __init__(self, profile: Path, width: int, height: int):
        if not Path(CHROMIUM).exists():
            pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium` (or run .ci/run)")
        commands_in, self._commands = os.pipe()
        self._replies, replies_out = os.pipe()
        # Chromium reads commands on fd 3 and writes replies on fd 4: first move both ends out of their way
        ends = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (commands_in, replies_out)]
        os.close(commands_in)
        os.close(replies_out)

        def onto_3_and_4():
            os.dup2(ends[0], 3)
            os.dup2(ends[1], 4)

        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"]
        self.process = subprocess.Popen([CHROMIUM, *flags], preexec_fn=onto_3_and_4, close_fds=False,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for fd in ends:
            os.close(fd)
        self._received = b""
        self._last_id = 0
        try:
            target = self.send("Target.createTarget", url="about:blank")["targetId"]
            self._session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            self.page("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                      mobile=False)  # the page as large as the display: noVNC then draws it at its own size
        except BaseException:
            self.close()
            raise

    def send(self, method: str, session: str | None = None, **params) -> dict:
        self._last_id += 1
        message = {"id": self._last_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while True:  # events come in between; the reply carries our id
            while b"\0" not in self._received:
                assert select.select([self._replies], [], [], 30)[0], f"Chromium did not answer {method}"
                chunk = os.read(self._replies, 1 << 20)
                assert chunk, f"Chromium exited with code {self.process.wait()}"
                self._received += chunk
            line, self._received = self._received.split(b"\0", 1)
            reply = json.loads(line)
            if reply.get("id") == self._last_id:
                assert "error" not in reply, f"{method}: {reply['error']}"
                return reply["result"]

    def page(self, method: str, **params) -> dict:
        return self.send(method, self._session, **params)

    def evaluate(self, expression: str):
        return self.page("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.evaluate(expression):
            assert time.monotonic() < deadline, f"the page never satisfied: {expression}"
            time.sleep(0.1)

    def screenshot(self) -> np.ndarray:
        png = base64.b64decode(self.page("Page.captureScreenshot", format="png")["data"])
        return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        os.close(self._commands)
        os.close(self._replies)


@pytest.fixture
def browser(x_session, tmp_path):
    browser = Browser(tmp_path / "chromium-profile", x_session.width, x_session.height)
    yield browser
    browser.close()


@pytest.fixture
def form_view(x_session):
    x_session.launch("form", geometry="700x560+40+30").wait_ready()
    with LiveView(x_session.display, x_session.xauthority) as view:
        yield view


@cache
def ocr():
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR()


def words_in(image: np.ndarray) -> set[str]:
    result, _ = ocr()(image)
    return {word for _, text, _ in result or [] for word in text.split()}


def listening_sockets(pids: set[int]) -> set[tuple[str, int]]:
    """(address as /proc/net/tcp writes it, port) of every TCP socket these processes listen on, IPv4 and IPv6."""
    inodes = set()
    for pid in pids:
        try:
            targets = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:  # a websockify child that has served its request and ended
            continue
        inodes |= {target.removeprefix("socket:[").removesuffix("]") for target in targets
                   if target.startswith("socket:[")}
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:
                address, port = local.split(":")
                listening.add((address, int(port, 16)))
    return listening


def command_lines() -> dict[int, list[str]]:
    lines = {}
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            lines[int(path.parent.name)] = path.read_bytes().decode(errors="replace").split("\0")
        except OSError:  # the process has ended
            pass
    return lines


def view_processes(vnc_port: int) -> set[int]:
    """x11vnc, websockify and websockify's per-connection children: each names the VNC port."""
    return {pid for pid, args in command_lines().items()
            if any(Path(arg).name in ("x11vnc", "websockify") for arg in args[:2])
            and any(arg in (str(vnc_port), f"127.0.0.1:{vnc_port}") for arg in args)}


def test_the_page_shows_the_desktop_and_stop_leaves_no_process(form_view, browser):
    browser.page("Page.navigate", url=form_view.url)
    browser.wait_for(CONNECTED)
    deadline = time.monotonic() + 20
    while not FORM_LABELS <= (seen := words_in(browser.screenshot())):  # the first frame may still be partial
        assert time.monotonic() < deadline, f"the page shows {sorted(seen)}, not the form's labels"
        time.sleep(0.2)

    assert len(view_processes(form_view.vnc_port)) > 2  # websockify forks a child for each of the page's connections
    form_view.stop()
    assert view_processes(form_view.vnc_port) == set()


def test_without_the_password_neither_the_page_nor_the_vnc_port_shows_anything(form_view, browser):
    browser.page("Page.navigate", url=form_view.url.split("#")[0])
    browser.wait_for(ASKS_FOR_PASSWORD)
    assert not browser.evaluate(CONNECTED)
    assert not FORM_LABELS & words_in(browser.screenshot())

    with socket.create_connection(("127.0.0.1", form_view.vnc_port), timeout=5) as vnc:
        reader = vnc.makefile("rb")
        assert reader.read(12) == b"RFB 003.008\n"
        vnc.sendall(b"RFB 003.008\n")
        count = reader.read(1)[0]
        assert list(reader.read(count)) == [VNC_AUTHENTICATION]
        vnc.sendall(bytes([VNC_AUTHENTICATION]))
        assert len(reader.read(16)) == 16  # the challenge
        vnc.sendall(bytes(16))  # a response made without the password
        assert int.from_bytes(reader.read(4), "big") == 1  # SecurityResult: failed


def test_both_servers_listen_on_127_0_0_1_only_and_the_password_is_in_no_file_and_on_no_command_line(x_session):
    port = free_port()
    with LiveView(x_session.display, x_session.xauthority, port=port) as view:
        running = command_lines()
        pids = view_processes(view.vnc_port)
        listening = listening_sockets(pids)
        password = view.url.split("#password=", 1)[1].encode()
        x11vnc = next(pid for pid in pids if running[pid][0].endswith("x11vnc"))
        view_folder = Path(f"/proc/{x11vnc}/cwd").resolve()  # holds the logs, and the password file until read
        files = {path.name: path.read_bytes() for path in view_folder.iterdir()}
    loopback = "0100007F"  # 127.0.0.1
    assert view.url.startswith(f"http://127.0.0.1:{port}/vnc.html?")
    assert listening == {(loopback, port), (loopback, view.vnc_port)}
    assert not any(password in "\0".join(args).encode() for args in running.values())
    assert sorted(files) == ["websockify.log", "x11vnc.log"]
    assert not any(password in content for content in files.values())
    assert not view_folder.exists()


class ForeignPage(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"<html>not the view</html>")

    def log_message(self, *args):
        pass


def test_a_browser_port_another_server_answers_on_is_one_line_and_no_password(x_session):
    """Another server answers /vnc.html on the port asked for (a port race, or LiveView(port=...)): the view
    must not take that page for its own and give out a URL with its password for it."""
    foreign = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ForeignPage)
    threading.Thread(target=foreign.serve_forever, daemon=True).start()
    port = foreign.server_address[1]
    view = LiveView(x_session.display, x_session.xauthority, port=port)
    try:
        with pytest.raises(SandboxError) as refused:
            view.start()
    finally:
        view.stop()
        foreign.shutdown()
        foreign.server_close()
    message = str(refused.value)
    assert message.startswith(f"port {port} in use on 127.0.0.1") and "\n" not in message
    assert view._password not in message
    assert view_processes(view.vnc_port) == set()


def test_a_vnc_port_taken_meanwhile_is_one_line_naming_it_not_x11vnc_tips(x_session, monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setattr("sandbox.view.free_port", lambda: port)  # as if another program took it after the pick
        with pytest.raises(SandboxError) as refused:
            LiveView(x_session.display, x_session.xauthority).start()
    message = str(refused.value)
    assert message.startswith(f"port {port} in use on 127.0.0.1: x11vnc could not listen there") and "\n" not in message
    assert view_processes(port) == set()


def test_a_killed_owner_takes_the_view_with_it(tmp_path):
    """SIGKILL leaves no time to clean up: x11vnc and websockify die with their parent (PR_SET_PDEATHSIG),
    websockify's per-connection children with websockify."""
    owner = subprocess.Popen([sys.executable, "-c", (
        "import time\nfrom sandbox.session import XSession\nfrom sandbox.view import LiveView\n"
        "with XSession(640, 480) as session, LiveView(session.display, session.xauthority) as view:\n"
        "    print(view.vnc_port, view.url, flush=True)\n    time.sleep(60)\n")],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
        env=os.environ | {"TMPDIR": str(tmp_path)})  # where the folders it cannot remove are left
    started = owner.stdout.readline()
    assert started, "the sandbox and its view did not start"
    vnc_port, url = started.split()
    browser = Browser(tmp_path / "chromium-profile", 640, 480)
    try:
        browser.page("Page.navigate", url=url)
        browser.wait_for(CONNECTED)
        assert len(view_processes(int(vnc_port))) > 2
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        deadline = time.monotonic() + 5
        while view_processes(int(vnc_port)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert view_processes(int(vnc_port)) == set()
    finally:
        browser.close()
        owner.kill()


def test_gui_agent_sandbox_view_prints_a_view_line_whose_page_shows_the_sandbox(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "agent", "sandbox", "--view", "--size", "1280x800",
                                "--apps", "form"], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().startswith("sandbox ready")
        line = process.stdout.readline()
        assert line.startswith("view: http://127.0.0.1:") and "#password=" in line, line
        browser = Browser(tmp_path / "chromium-profile", 1280, 800)
        try:
            browser.page("Page.navigate", url=line.removeprefix("view: ").strip())
            browser.wait_for(CONNECTED)
            deadline = time.monotonic() + 20
            while not FORM_LABELS <= (seen := words_in(browser.screenshot())):
                assert time.monotonic() < deadline, f"the page shows {sorted(seen)}, not the form's labels"
                time.sleep(0.2)
        finally:
            browser.close()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
