"""`gui-agent mcp`: one display and monitor served to MCP clients (Claude Code, other computer-use
hosts) as tools: screenshot, click, move, drag, scroll, type_text, press_keys, find_text, run_task.
Over stdio, or with --http PORT streamable HTTP on 127.0.0.1:PORT/mcp.

Coordinates are pixels of the screenshots this server returns. Every call is one step of the
session's episode (OUT/episode.jsonl, the screen as the call found it in step-NNN.png), with the
safety of `run`: the confirmation policy (nobody can answer here, so a match is refused unless the
server was started with --yes), the stop keys and screen corners, secrets typed by name only and
masked in every later screenshot, nothing done off the monitor.

Threads: the SDK runs each (sync) tool in a worker thread of its event loop, which runs in a daemon
thread here. A tool hands its work to the main thread (`Desk`) and waits: calls are done one at a
time, in the order they came, and all display work is where `run` does it. So the stop keys' signal
(SIGUSR1, agent.core.stop) raises StopRequested in the action under way, between two keystrokes of
a long text, and only that call fails; between calls it does nothing. SIGTERM and SIGINT cut the
action under way the same way and end the session once that call is answered: the episode gets its
end line.
"""

import json
import math
import os
import queue
import re
import signal
import socket
import sys
import threading
import time
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Callable, Literal

from pydantic import Field, ValidationError

from agent import __version__, api
from agent.core import redact
from agent.core.actions import Click, DoubleClick, Drag, Hover, Key, Scroll, TypeText
from agent.core.confirm import Confirmer, NeedsConfirmation, load_policy
from agent.core.episode import EpisodeWriter, new_run_dir
from agent.core.errors import ActionError, AgentError, Interrupted, StopRequested
from agent.core.executors import PyAutoGUIComputer
from agent.core.geometry import Point
from agent.core.mask import MaskedScreen
from agent.core.ocr import OCR
from agent.core.screen import Frame, Screen
from agent.planners import grounding

INSTRUCTIONS = ("Acts on one X display. Coordinates are pixels of the screenshot this server returns (x from the "
                "left, y from the top). Type secrets as {{NAME}}; their values are never shown. Actions the "
                "confirmation policy matches are refused unless the server was started with --yes.")
SETTLE_SECONDS = 3.0

X = Annotated[int, Field(description="pixels from the screenshot's left edge")]
Y = Annotated[int, Field(description="pixels from the screenshot's top edge")]


def nobody_to_ask(question: str) -> None:
    return None  # stdin is the protocol: there is no one to ask, so the Confirmer refuses (NeedsConfirmation)


def log(text: str) -> None:
    """A line for the person running the server: on stderr, since stdout may be the protocol."""
    print(f"gui-agent mcp: {redact.scrub(text)}", file=sys.stderr, flush=True)


class Desk:
    """The main thread's side: the calls' work, one at a time, and what stops it."""

    def __init__(self):
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.acting = False  # an action is under way: a stop raises StopRequested in it
        self.ending: tuple[str, str] | None = None  # the session's end status and message, once it ends
        self.watch = None  # the StopWatch, whose reason says why it signalled
        self.stop_reason = "stopped"
        self.stops = 0  # actions cut so far
        self.take_signals()

    def take_signals(self) -> None:
        """SIGUSR1 (the StopWatch's, and `end`'s) raises StopRequested only in an action under way;
        SIGTERM and SIGINT end the session, cutting the action under way the same way."""
        signal.signal(signal.SIGUSR1, self._on_stop)
        signal.signal(signal.SIGTERM, self._on_end_signal)
        signal.signal(signal.SIGINT, self._on_end_signal)

    def call(self, work: Callable):
        """From any thread: `work()` done in the main thread; its result, or it raises what work raised."""
        if self.ending:
            raise AgentError(f"the server is ending ({self.ending[1]})")
        done = Future()
        self.jobs.put((work, done))
        return done.result()

    def serve(self) -> tuple[str, str]:
        """In the main thread, until `end`: the calls in the order they came. The end status and message."""
        while (job := self.jobs.get()) is not None:
            work, done = job
            try:
                done.set_result(work())
            except BaseException as error:
                done.set_exception(error)
        return self.ending

    def end(self, status: str, message: str) -> None:
        """From any thread or a signal handler: ends the session once the call under way is done, which
        a stop cuts."""
        if self.ending is None:
            self.ending = (status, message)
        self.jobs.put(None)
        os.kill(os.getpid(), signal.SIGUSR1)

    @contextmanager
    def interruptible(self):
        """The stop keys, a screen corner or the end of the session raise StopRequested in here."""
        if self.ending:
            raise StopRequested(self.ending[1])
        self.acting = True
        try:
            yield
        finally:
            self.acting = False

    def _on_end_signal(self, signum, frame) -> None:
        self.end("interrupted", f"ended by {signal.Signals(signum).name}")

    def _on_stop(self, signum, frame) -> None:
        if self.watch and self.watch.reason:
            self.stop_reason, self.watch.reason = self.watch.reason, ""  # armed again: the next press stops again
        if self.acting:  # between calls there is nothing to stop
            self.acting = False
            self.stops += 1
            raise StopRequested(self.ending[1] if self.ending else self.stop_reason)


def outcome_of(error: BaseException) -> tuple[str, str]:
    """A failed call's step outcome and its one-line message."""
    if isinstance(error, NeedsConfirmation):
        return "needs_confirmation", str(error)
    if isinstance(error, StopRequested):
        return "interrupted", f"stopped: {error or 'stop requested'}; the action was cut short"
    if isinstance(error, Interrupted):
        return "interrupted", str(error)
    if isinstance(error, ActionError):
        return "action_error", str(error)
    if isinstance(error, AgentError):
        return "error", str(error)
    return "error", f"unexpected {type(error).__name__}: {error}; please report it with this episode"


def typed_action(kind, **fields):
    """The typed action, or ActionError with the first problem on one line (an unknown key, say)."""
    try:
        return kind(**fields)
    except ValidationError as error:
        raise ActionError(error.errors()[0]["msg"].removeprefix("Value error, ")) from None


class Session:
    """The display, its computer and the episode: one method per tool, each call one episode step.
    Runs in the main thread only (through the Desk)."""

    def __init__(self, options: api.RunOptions, out: Path, desk: Desk, transport: str):
        self.options, self.out, self.desk = options, Path(out), desk
        self.secrets = api.secrets_of(options)
        raw_screen = Screen(options.display, options.monitor)
        first = raw_screen.capture()
        self.monitor = first.monitor
        self.raw_computer = PyAutoGUIComputer(raw_screen.display, self.monitor)
        self.computer, self.mask = api.typing_secrets(self.raw_computer, self.secrets)
        self.screen = MaskedScreen(raw_screen, self.mask) if self.mask else raw_screen
        self.ocr = self.mask.ocr if self.mask else OCR()
        self.confirmer = Confirmer(options.confirm, load_policy(options.confirm_policy), options.yes,
                                   ask=nobody_to_ask, window_class=self.raw_computer.window_class)
        self.episode = EpisodeWriter(self.out)
        self.steps = self.tasks = 0
        m = self.monitor
        self.episode.header(
            task=f"MCP session on display {raw_screen.display}", planner="mcp", agent_version=__version__,
            settings={"transport": transport, "confirm": options.confirm, "yes": options.yes,
                      "secrets": sorted(self.secrets), "stop_keys": options.stop_keys},
            screen={"display": raw_screen.display, "monitor": options.monitor, "left": m.left, "top": m.top,
                    "width": m.width, "height": m.height, "scale": m.scale, "image_width": first.width,
                    "image_height": first.height})

    @contextmanager
    def acting(self):
        """The action under way, which a stop cuts (StopRequested)."""
        stops = self.desk.stops
        try:
            with self.desk.interruptible():
                yield
        finally:
            if self.desk.stops != stops:
                try:
                    self.raw_computer.reconnect()
                except AgentError:  # the display is gone: the next call says so
                    pass

    def close(self, status: str, message: str) -> None:
        self.episode.end(status, message, steps=self.steps)
        self.raw_computer.close()
        try:
            self.screen.close()
        except Exception:  # mss raises closing the connection of a display that went away: nothing is left to close
            pass

    def step(self, call: str, work: Callable[[Frame, dict], object]):
        """One call as one episode step: the screen as the call found it, then `work(frame, record)`.
        A failure is recorded and raised as an AgentError with a one-line message."""
        self.steps += 1
        record = {"index": self.steps, "call": call, "timings": {}}
        try:
            frame = self.screen.capture()
            record |= {"screenshot": self.episode.screenshot(self.steps, frame.png()),
                       "image": {"width": frame.width, "height": frame.height}}
            record["timings"]["capture"] = frame.capture_seconds
            result = work(frame, record)
            record |= {"outcome": "ok", "error": None}
            return result
        except (Exception, StopRequested) as error:
            outcome, message = outcome_of(error)
            record |= {"outcome": outcome, "error": message}
            action = record.get("action", {})
            if outcome != "interrupted":
                record.pop("cut", None)  # a failed action was not cut short: it is over
            elif record.get("cut") == "during" and action.get("type") == "type" and "{{" not in action["content"]:
                record["typed"] = getattr(self.computer, "typed", None)  # how far it got; not for a secret's length
            raise AgentError(message) from None
        finally:
            record["timings"] = {k: round(v, 4) for k, v in record["timings"].items()}
            self.episode.step(record)

    def to_screen(self, frame: Frame, x: int, y: int) -> Point:
        """The screen pixel under pixel (x, y) of the screenshot; a point off it is refused."""
        if not (0 <= x < frame.width and 0 <= y < frame.height):
            raise ActionError(f"point ({x}, {y}) is off the screen (the screenshot is {frame.width}x{frame.height}, "
                              "0-based); nothing was done")
        sx, sy = frame.geometry.image_to_screen((x + 0.5, y + 0.5))
        return math.floor(sx), math.floor(sy)

    def perform(self, frame: Frame, record: dict, action, screen: dict[str, Point], do: Callable[[], None]) -> str:
        """Asks the policy, writes the act line, does it (a stop cuts it), waits for the screen to settle."""
        record |= {"action": action.model_dump(), "screen": screen}
        if refusal := self.confirmer.refusal(action):  # NeedsConfirmation when it needs a yes
            raise ActionError(refusal)
        self.episode.write({"kind": "act", "step": self.steps, "call": record["call"], "action": record["action"],
                            "screen": screen})
        record["cut"], started = "during", time.perf_counter()
        with self.acting():
            do()
        del record["cut"]
        settling = time.perf_counter()
        _, record["settled"] = self.screen.settle(frame, timeout=SETTLE_SECONDS)
        record["timings"] |= {"act": settling - started, "settle": time.perf_counter() - settling}
        record["explanation"] = "done" if record["settled"] else \
            f"done; the screen was still changing after {SETTLE_SECONDS:g} s"
        return record["explanation"]

    def pointer(self, call: str, points: dict[str, tuple[int, int]], make: Callable[[dict], object],
                do: Callable[[dict], None]) -> str:
        """A pointer action at pixels of the screenshot: `make(model points)` is its typed action (as
        the episode records it), `do(screen points)` performs it at exactly those pixels."""
        def work(frame: Frame, record: dict) -> str:
            screen = {name: self.to_screen(frame, *point) for name, point in points.items()}
            action = make({name: frame.geometry.screen_to_model(point) for name, point in screen.items()})
            return self.perform(frame, record, action, screen, lambda: do(screen))
        return self.step(call, work)

    def screenshot(self) -> tuple[bytes, int, int]:
        def work(frame: Frame, record: dict):
            record["explanation"] = f"{frame.width}x{frame.height} screenshot sent"
            return frame.png(), frame.width, frame.height
        return self.step("screenshot()", work)

    def click(self, x: int, y: int, button: str, count: int) -> str:
        def make(p: dict):
            if count == 2 and button == "left":
                return typed_action(DoubleClick, point=p["point"])
            return typed_action(Click, point=p["point"], button=button)
        return self.pointer(f"click(x={x}, y={y}, button={button!r}, count={count})", {"point": (x, y)}, make,
                            lambda s: self.computer.click(s["point"], button, count))

    def move(self, x: int, y: int) -> str:
        return self.pointer(f"move(x={x}, y={y})", {"point": (x, y)},
                            lambda p: typed_action(Hover, point=p["point"]), lambda s: self.computer.move(s["point"]))

    def drag(self, start_x: int, start_y: int, end_x: int, end_y: int) -> str:
        return self.pointer(f"drag(start_x={start_x}, start_y={start_y}, end_x={end_x}, end_y={end_y})",
                            {"start": (start_x, start_y), "end": (end_x, end_y)},
                            lambda p: typed_action(Drag, start=p["start"], end=p["end"]),
                            lambda s: self.computer.drag(s["start"], s["end"]))

    def scroll(self, x: int, y: int, direction: str, amount: int) -> str:
        return self.pointer(f"scroll(x={x}, y={y}, direction={direction!r}, amount={amount})", {"point": (x, y)},
                            lambda p: typed_action(Scroll, point=p["point"], direction=direction, steps=amount),
                            lambda s: self.computer.scroll(s["point"], direction, amount))

    def type_text(self, text: str) -> str:
        def work(frame: Frame, record: dict) -> str:
            action = typed_action(TypeText, content=text)
            return self.perform(frame, record, action, {}, lambda: self.computer.type_text(text))
        return self.step(f"type_text(text={text!r})", work)

    def press_keys(self, keys: str | list[str]) -> str:
        def work(frame: Frame, record: dict) -> str:
            action = typed_action(Key, keys=keys)
            return self.perform(frame, record, action, {}, lambda: self.computer.keypress(action.keys))
        return self.step(f"press_keys(keys={keys!r})", work)

    def find_text(self, text: str) -> dict:
        def work(frame: Frame, record: dict) -> dict:
            texts = self.ocr.read(frame.pixels)
            found = [{"text": match.part or match.text.text, "box": list(match.box),
                      "centre": [math.floor(match.centre[0]), math.floor(match.centre[1])],
                      "score": round(match.score, 2)} for match in grounding.find_text(texts, text)]
            record["explanation"] = f"{len(found)} found" + "".join(f"; {f['text']!r} at {f['centre']}" for f in found)
            return {"found": found} if found else {"found": [], "closest": grounding.closest_texts(texts, text)}
        return self.step(f"find_text(text={text!r})", work)

    def run_task(self, task: str) -> dict:
        def work(frame: Frame, record: dict) -> dict:
            self.tasks += 1
            out = self.out / f"task-{self.tasks:03d}"
            options = self.options.model_dump(exclude={"out", "stop_keys"})
            try:
                with self.acting():  # the session's stop keys stop the run; it watches none of its own
                    result = api.run(task, screen=self.screen, computer=self.raw_computer, ask=nobody_to_ask,
                                     on_note=log, out=out, stop_keys="none", **options)
            finally:
                self.raw_computer.set_deadline(None)  # the run's --max-seconds ends with it
            if self.mask:  # it typed these through a mask of its own: from now on, ours covers them too
                for name in set(re.findall(r"\{\{(\w+)\}\}", task)) & set(self.secrets):
                    self.mask.secret_typed(self.secrets[name])
            summary = f"{result.status}{f': {result.message}' if result.message else ''}; {result.steps} steps, " \
                      f"episode {out}"
            record |= {"explanation": summary, "episode": str(out)}
            if result.status != "done":
                raise AgentError(f"the task ended {summary}")
            return {"status": result.status, "steps": result.steps, "episode": str(out),
                    "report": str(result.report) if result.report else None}
        return self.step(f"run_task(task={task!r})", work)


def build_server(desk: Desk, session: Session):
    """The MCP server and its tools; each tool's work is done by the Desk."""
    try:
        from mcp.server.mcpserver import Image, MCPServer
        from mcp.server.mcpserver.exceptions import ToolError
        from mcp.types import ToolAnnotations
    except ImportError as error:
        raise AgentError(f"`gui-agent mcp` needs the MCP SDK ({error}): pip install 'mcp>=2.3'") from None

    class Server(MCPServer):
        async def call_tool(self, name, arguments, context=None):
            try:
                return await super().call_tool(name, arguments, context)
            except ToolError as error:  # arguments against the schema: the first problem, on one line
                if not isinstance(error.__cause__, ValidationError):
                    raise
                problem = error.__cause__.errors()[0]
                where = ".".join(str(part) for part in problem["loc"])
                raise ToolError(f"Error executing tool {name}: argument {where}: {problem['msg']}") from error.__cause__

    server = Server("gui-agent", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING")

    def tool(read_only: bool = False):  # results are text (JSON for find_text and run_task) or an image
        return server.tool(structured_output=False, annotations=ToolAnnotations(read_only_hint=read_only))

    def on_desk(work: Callable):
        try:
            return desk.call(work)
        except AgentError as error:
            raise ToolError(redact.scrub(str(error))) from None

    @tool(read_only=True)
    def screenshot():
        """A PNG of the whole monitor, and its size; the coordinates the other tools take are its pixels."""
        png, width, height = on_desk(session.screenshot)
        return [Image(data=png, format="png"), f"screenshot {width}x{height} pixels"]

    @tool()
    def click(x: X, y: Y, button: Literal["left", "right", "middle"] = "left",
              count: Annotated[int, Field(ge=1, le=3, description="1 click, 2 double, 3 triple")] = 1) -> str:
        """Click at a point of the screenshot."""
        return on_desk(lambda: session.click(x, y, button, count))

    @tool()
    def move(x: X, y: Y) -> str:
        """Move the pointer to a point without clicking."""
        return on_desk(lambda: session.move(x, y))

    @tool()
    def drag(start_x: X, start_y: Y, end_x: X, end_y: Y) -> str:
        """Press the left button at the start point, move to the end point and release it."""
        return on_desk(lambda: session.drag(start_x, start_y, end_x, end_y))

    @tool()
    def scroll(x: X, y: Y, direction: Literal["up", "down", "left", "right"],
               amount: Annotated[int, Field(ge=1, le=50, description="wheel notches")] = 3) -> str:
        """Scroll the wheel with the pointer over a point."""
        return on_desk(lambda: session.scroll(x, y, direction, amount))

    @tool()
    def type_text(text: Annotated[str, Field(description="the text; {{NAME}} types the secret NAME")]) -> str:
        """Type text at the keyboard focus (it does not click or clear first). Write a secret as {{NAME}}."""
        return on_desk(lambda: session.type_text(text))

    @tool()
    def press_keys(keys: Annotated[str | list[str], Field(description="a chord like 'ctrl+s' or 'enter', or a list "
                                                                      "of key names pressed together")]) -> str:
        """Press a key or a key combination."""
        return on_desk(lambda: session.press_keys(keys))

    @tool(read_only=True)
    def find_text(text: Annotated[str, Field(description="the text to look for (case, OCR slips tolerated)")]) -> str:
        """Where the text is on the screen, read by OCR: JSON with boxes [x0, y0, x1, y1] and centres in screenshot
        pixels, best first; with none found, the closest texts on screen."""
        return json.dumps(on_desk(lambda: session.find_text(text)), ensure_ascii=False)

    @tool()
    def run_task(task: Annotated[str, Field(description="what to do, in plain words; {{NAME}} for a secret")]) -> str:
        """Carry out a whole task with the agent loop (GLM-4.5V, or the embedded OCR planner with --model local);
        JSON with its status, steps and episode folder. A task that does not end done is a tool error."""
        return json.dumps(on_desk(lambda: session.run_task(task)), ensure_ascii=False)

    return server


def serve_mcp(server, desk: Desk, port: int | None) -> None:
    """In a daemon thread: the SDK's event loop, until the client goes away or the transport fails."""
    import anyio

    try:
        if port is None:
            anyio.run(server.run_stdio_async)
        else:
            anyio.run(lambda: server.run_streamable_http_async(host="127.0.0.1", port=port))
        desk.end("done", "the client closed the connection")
    except BaseException as error:  # uvicorn ends with SystemExit when it cannot serve
        desk.end("error", f"the MCP transport stopped: {type(error).__name__} {error}".strip())


def check_port_free(port: int) -> None:
    if not 1 <= port <= 65535:
        raise AgentError(f"--http {port}: a port is 1 to 65535")
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise AgentError(f"cannot serve on 127.0.0.1:{port}: {error.strerror}; give another --http PORT") from None


def serve(given: dict, http: int | None) -> int:
    """`gui-agent mcp`: serves until the client goes away or a signal; the exit code. `given` are
    run options (agent.api.RunOptions), for the session and for run_task."""
    options = api.options_of(given)
    api.keep_secret(options)
    if http is not None:
        check_port_free(http)
    desk = Desk()
    session = Session(options, options.out or new_run_dir(), desk, "stdio" if http is None else "http")
    status, message = "error", "the server did not start"
    try:
        server = build_server(desk, session)
        desk.watch = api.start_stop_watch(session.screen.display, options.stop_keys, session.monitor, log)
        desk.take_signals()  # over the StopWatch's own SIGUSR1 handler, which would raise between calls too
        threading.Thread(target=serve_mcp, args=(server, desk, http), daemon=True, name="mcp").start()
        where = "stdio" if http is None else f"http://127.0.0.1:{http}/mcp"
        log(f"serving display {session.screen.display} ({session.monitor.width}x{session.monitor.height}) on "
            f"{where}; episode {session.out}")
        status, message = desk.serve()
    except AgentError as error:
        message = str(error)
        raise
    finally:
        try:
            session.close(status, message)  # the end line first: stopping the watch can take 2 s
        finally:
            if desk.watch:
                desk.watch.stop()
    log(f"ended ({status}: {message}); {session.steps} calls in {session.out}; "
        f"`gui-agent report {session.out}` shows them")
    return 0 if status in ("done", "interrupted") else 1
