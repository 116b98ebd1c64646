"""Episodes on disk: OUT/episode.jsonl (header, one line per step, end) and one PNG per step.

Lines are appended as they happen, each in one write, so a killed run keeps every finished step;
a writer holds a lock on the folder for as long as it writes. Every line is written through the
model of its kind (Header, Step, Act, Resume, End: the README's format), so a line the schema
refuses is never written. Reading checks every line against the same models and every file a
line names: only a plain file of the folder, never a path or a link out of it.
"""

import contextlib
import errno
import fcntl
import json
import math
import os
import re
import stat
import struct
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    ValidationInfo,
    WrapValidator,
)

from agent.core.actions import ACTION
from agent.core.defaults import Outcome, Status
from agent.core.errors import EpisodeError
from agent.core.redact import scrub
from agent.core.shown import one_line
from agent.core.strict_json import MAX_NUMBER, BadNumber, marked

EPISODE_FILE = "episode.jsonl"
FINAL_SCREENSHOT = "final.png"
FORMAT_VERSION = 1
MAX_NESTING = 32  # levels of objects and lists in one line; the format needs 5
SURROGATE = re.compile("[\ud800-\udfff]")  # half of a UTF-16 pair, alone: JSON's \\ud800 reads as one
MAX_VERSION = 10_000  # of a demonstration or skill (agent.demos.versions), each kept as a file
# What a screenshot may be, for the writer and every reader alike: a side as long as an X screen's can
# be (coordinates are 16-bit), as many pixels as an 8K screen's twice over
MAX_IMAGE_SIDE = 32767
MAX_IMAGE_PIXELS = 64_000_000
MAX_IMAGE_BYTES = 256 * 2**20
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def new_run_dir(root: Path = Path("runs")) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = root / stamp
    suffix = 1
    while path.exists():
        suffix += 1
        path = root / f"{stamp}-{suffix}"
    return path


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def replace_file(path: Path, data: bytes) -> None:
    """Writes `path` whole as a new file: a link (symbolic or hard) at `path` is replaced, never
    written through. Raises OSError; nothing is left half written."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # O_EXCL, never a link
    try:
        os.fchmod(handle, 0o644)
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def write_file(path: Path, data: bytes) -> None:
    """`path` (its folder made if need be) whole or not at all, never through a link at it; EpisodeError
    naming the path and what to do when it cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_file(path, data)
    except OSError as error:
        raise EpisodeError(f"cannot write {path}: {error.strerror}; {what_to_do(error)}") from None


def what_to_do(error: OSError) -> str:
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return "free some space on its disk"
    return "check the folder can be written"


class EpisodeWriter:
    def __init__(self, out: Path, resume: bool = False):
        """A new episode in `out`, or with `resume`, more lines appended to the one there. The
        folder stays locked against other writers until `end`."""
        self.out = Path(out)
        self.file = self.out / EPISODE_FILE
        self.steps_before: int | None = None  # with `resume`, the last step index found under the lock
        self._ended = False
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            flags = os.O_RDWR | os.O_APPEND | os.O_NOFOLLOW | (0 if resume else os.O_CREAT | os.O_EXCL)
            self._fd = os.open(self.file, flags, 0o644)
        except FileExistsError:
            raise EpisodeError(f"{self.file} already exists; choose a new --out folder") from None
        except OSError as error:
            reason = "it is a link, which is never written through" if error.errno == errno.ELOOP else error.strerror
            raise EpisodeError(f"cannot write the episode in {self.out}: {reason}") from None
        self._handle = open(self._fd, "a+b", buffering=0)  # closes the descriptor, so the lock, if never ended
        try:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise EpisodeError(f"{self.out} is being written by another gui-agent run; wait for it to end "
                                   "(or stop it), or choose another --out folder") from None
            if resume:
                _drop_torn_tail(self._fd)
                steps = read_episode(self.file).steps
                self.steps_before = steps[-1]["index"] if steps else 0
        except OSError as error:
            self._handle.close()
            raise EpisodeError(f"cannot write the episode in {self.out}: {error.strerror}") from None
        except BaseException:
            self._handle.close()
            raise
        self.started = time.monotonic()

    def write(self, line: "Record") -> None:
        """Appends the line as one line in one write: its kind, then the fields it was given (a field left
        out stays out, one given as None is written null). One that cannot be written whole is cut off again."""
        if isinstance(line, Resume) and line.after_step != self.steps_before:
            self._ended = True  # another run wrote here since the episode was read: add nothing
            self._handle.close()
            raise EpisodeError(f"{self.out} changed since it was read: it ends after step {self.steps_before}, not "
                               f"{line.after_step}; another run wrote it meanwhile, resume it again")
        record = {"kind": line.KIND, **line.model_dump(exclude_unset=True)}
        # no key or secret in it; a lone surrogate (a model may send "\\ud800") as "?", which UTF-8 cannot hold
        data = (json.dumps(scrub(record), ensure_ascii=False) + "\n").encode("utf-8", "replace")
        size = None
        try:
            size = os.fstat(self._fd).st_size
            if os.write(self._fd, data) != len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError as error:
            if size is not None:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, size)
            raise EpisodeError(f"cannot write {self.file}: {error.strerror}; {what_to_do(error)} "
                               "(every line before this one is kept)") from None

    def header(self, **fields) -> None:
        self.write(made(Header, {"format": FORMAT_VERSION, "started": now_iso(), **fields}))

    def resume(self, **fields) -> None:
        """The line a resumed run begins with: after which step it goes on."""
        self.write(made(Resume, fields))

    def act(self, **fields) -> None:
        """The line written before an action is performed, so a run killed while it is under way says so."""
        self.write(made(Act, fields))

    def screenshot(self, index: int, png: bytes) -> str:
        return self.image(f"step-{index:03d}.png", png)

    def image(self, name: str, png: bytes) -> str:
        """Writes the PNG `name`, only one every reader of the episode takes (check_png_size)."""
        if len(png) > MAX_IMAGE_BYTES:
            raise EpisodeError(f"{self.out / name} would have {len(png):,} bytes, more than a screenshot can have "
                               f"({MAX_IMAGE_BYTES:,}); it was not written")
        check_png_size(png, self.out / name, "was not written")
        try:
            replace_file(self.out / name, png)
        except OSError as error:
            raise EpisodeError(f"cannot write {self.out / name}: {error.strerror}; {what_to_do(error)} "
                               "(every step before this one is kept)") from None
        return name

    def step(self, step: "Step | dict") -> None:
        self.write(step if isinstance(step, Step) else made(Step, step))

    def end_screenshot(self, take: Callable[[], bytes]) -> dict:
        """The end line's field for the screen a run left, written as FINAL_SCREENSHOT from the PNG
        `take` gives; none when it cannot be taken or written (the end line matters more)."""
        try:
            return {"screenshot": self.image(FINAL_SCREENSHOT, take())}
        except Exception:  # a full disk, a display gone while capturing or encoding
            return {}

    def end(self, status: str, message: str = "", **fields) -> None:
        """The last line: how the run ended (a Status) and why; nothing after it is written."""
        if self._ended:
            return
        self._ended = True
        seconds = round(time.monotonic() - self.started, 3)
        try:
            self.write(made(End, {"status": status, "message": message, "seconds": seconds, "ended": now_iso(),
                                  **fields}))
        finally:
            self._handle.close()


def _drop_torn_tail(fd: int) -> None:
    """Cut a last line that a kill left half written, so appended lines start clean."""
    data = os.pread(fd, os.fstat(fd).st_size, 0)
    if data and not data.endswith(b"\n"):
        tail = data[data.rfind(b"\n") + 1:]
        try:
            marked(tail)
            os.write(fd, b"\n")  # whole, only its newline was lost
        except (ValueError, RecursionError):
            os.ftruncate(fd, len(data) - len(tail))


# The schema of episode lines, as the README gives it, which every writer writes through and every
# reader checks. Fields not named here are allowed (a newer agent may add some); a named field of the
# wrong type is not. Strict: "5" is no integer, true no number.
class Record(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")
    KIND: ClassVar[str]  # the line's `kind`


READING = {"reading": True}  # the validation context of a reader, which takes values a newer agent may add


def known(*kinds: type[StrEnum]):
    """A text that is a member of one of `kinds`: a writer writes no other; a reader takes any text."""
    allowed = [member.value for kind in kinds for member in kind]

    def check(value: str, info: ValidationInfo) -> str:
        if value not in allowed and not (info.context or {}).get("reading"):
            raise ValueError(f"must be one of {', '.join(allowed)}, not {value!r}")
        return value
    return AfterValidator(check)


def kept_int(value, validate):
    """A number as given: an integer stays one (20, not 20.0), as the line had it."""
    number = validate(value)
    return value if type(value) is int else number


Number = Annotated[float, WrapValidator(kept_int), PlainSerializer(lambda value: value, return_type=Any)]
as_list = BeforeValidator(lambda value: list(value) if isinstance(value, tuple) else value)  # a point in code
Pair = Annotated[list[Number], Field(min_length=2, max_length=2), as_list]
ModelPair = Annotated[list[Annotated[Number, Field(ge=0, le=999)]], Field(min_length=2, max_length=2), as_list]
Size = Annotated[int, Field(gt=0)]


class ScreenInfo(Record):
    left: int
    top: int
    width: Size
    height: Size
    scale: Annotated[Number, Field(gt=0)] = 1.0
    image_width: Size | None = None
    image_height: Size | None = None
    display: str | None = None
    monitor: int | None = None


class Settings(Record):
    model: str | None = None
    base_url: str | None = None
    thinking: bool | None = None
    temperature: Number | None = None
    max_tokens: int | None = None
    timeout: Number | None = None
    max_retries: int | None = None
    protocol: str | None = None
    tool_choice: str | None = None
    snap: bool | None = None
    skills: list[str] | None = None
    replay_of: str | None = None
    params: dict[str, Any] | None = None


class Header(Record):
    KIND = "header"
    format: int
    version: Annotated[int, Field(ge=1, le=MAX_VERSION)] | None = None  # of a demonstration or skill
    task: str = ""
    planner: str | None = None
    agent_version: str | None = None
    started: str | None = None
    settings: Settings = Settings()
    screen: ScreenInfo | None = None


class Snap(Record):
    model_point: ModelPair
    point: ModelPair  # a replay clicks it
    text: str = ""
    distance: Number | None = None


class Window(Record):
    name: str | None = None
    left: int | None = None
    top: int | None = None
    width: int | None = None
    height: int | None = None


class Target(Record):
    crop: str
    crop_point: Pair
    text: str
    text_offset: Pair
    window: Window | None = None


def known_action(action: dict) -> dict:
    try:
        ACTION.validate_python(action)
    except ValidationError:
        raise ValueError("is not an action gui-agent knows") from None
    return action


Action = Annotated[dict[str, Any], AfterValidator(known_action)]


class Performed(Record):
    """One action done for a reply: the step's own fields, and each of its `then`."""
    outcome: Annotated[str, known(Outcome, Status)] | None = None  # a Status: the run ended in it
    error: str | None = None
    settled: bool | None = None
    changed: bool | None = None  # whether the screen changed after it
    action: Action | None = None
    call: str | None = None
    screen: dict[str, Pair] = {}
    cut: str | None = None  # of an action the run ended in: "before", "during" or "after" performing it
    typed: int | None = None  # of a text cut while being typed: the characters typed


class Usage(Record):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None


class Request(Record):
    images: int | None = None
    image_tokens: int | None = None
    bytes: int | None = None
    tool_choice: str | None = None


class Numbered(Record):
    """Which step a line is, and the screen it began on: first in a step line (see Step)."""
    index: int
    screenshot: str | None = None


class Step(Performed, Numbered):  # fields in the order of the bases, last first
    KIND = "step"
    raw: str | None = None
    reasoning: str | None = None
    explanation: str | None = None
    memory: str | None = None
    snap: Snap | None = None
    image: dict[str, int] | None = None
    request: Request | None = None
    usage: Usage | None = None
    finish_reason: str | None = None
    attempts: list[dict[str, Any]] | None = None
    timings: dict[str, Number] = {}
    then: list[Performed] = []
    target: dict[str, Target] = {}
    time: Number | None = None  # of a demonstration's step: seconds since its first action
    pasted_with: list[str] | None = None  # of a demonstration's typing: the keys that pasted some of it
    episode: str | None = None  # of an MCP run_task call: the folder of the run's own episode


class Act(Record):
    KIND = "act"
    step: int
    call: str
    action: Action
    screen: dict[str, Pair] = {}


class Resume(Record):
    KIND = "resume"
    after_step: int
    agent_version: str | None = None


class End(Record):
    KIND = "end"
    status: Annotated[str, known(Status)]
    message: str = ""
    steps: int | None = None
    tokens: int | None = None
    seconds: Number | None = None
    ended: str | None = None
    screenshot: str | None = None  # the screen as the run left it


SCHEMA: dict[str, type[Record]] = {"header": Header, "step": Step, "act": Act, "resume": Resume, "end": End}
Line = TypeVar("Line", bound=Record)


def made(schema: type[Line], fields: dict) -> Line:
    """The line of `schema` with exactly these fields; EpisodeError naming the first one wrong."""
    try:
        return schema.model_validate(fields)
    except ValidationError as error:
        raise EpisodeError(f"the {schema.KIND} line was not written: {problem(error)}") from None
WANTED = {"int_type": "must be an integer", "float_type": "must be a number", "string_type": "must be a string",
          "bool_type": "must be true or false", "dict_type": "must be an object", "list_type": "must be a list",
          "model_type": "must be an object", "missing": "is missing",
          "too_short": "must have {min_length} items or more", "too_long": "must have at most {max_length} items",
          "greater_than": "must be more than {gt}",
          "greater_than_equal": "must be at least {ge}", "less_than_equal": "must be at most {le}",
          "literal_error": "must be {expected}", "string_pattern_mismatch": "must match {pattern}"}


def problem(error: ValidationError) -> str:
    """The first thing wrong, as "field 'screen.width' must be an integer"."""
    first = error.errors()[0]
    where = one_line(".".join(str(part) for part in first["loc"]))
    wanted = WANTED.get(first["type"], "").format(**first.get("ctx", {})) or first["msg"].removeprefix("Value error, ")
    return f"field '{where}' {wanted}"


def nesting(value) -> int:
    """How deep objects and lists go in `value`, counted without recursion."""
    deepest, level = 0, [(value, 1)]
    while level:
        item, depth = level.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            level += [(child, depth + 1) for child in (item.values() if isinstance(item, dict) else item)]
    return deepest


def odd_value(value) -> str | None:
    """The first field of `value` (nested: 'snap.point.0') holding a number that is not finite or is
    absurdly large, or a string or key that is not text (a lone UTF-16 surrogate, which no page or
    terminal can be given), as "field 'snap.point.0' ...", or None. Run after `nesting`, which bounds the walk."""
    level: list[tuple[tuple[str, ...], Any]] = [((), value)]
    for where, item in level:  # breadth first: it grows as it goes
        name = one_line(".".join(where))
        if isinstance(item, dict):
            if any(SURROGATE.search(key) for key in item):
                holder = f"field '{name}'" if name else "the line"
                return f"{holder} has a name that is not text (a lone surrogate, \\ud800-\\udfff)"
            level += [((*where, key), child) for key, child in item.items()]
        elif isinstance(item, list):
            level += [((*where, str(n)), child) for n, child in enumerate(item)]
        elif isinstance(item, str) and SURROGATE.search(item):
            return f"field '{name}' is not text: it holds a lone surrogate (\\ud800-\\udfff)"
        elif isinstance(item, BadNumber) or isinstance(item, float) and not math.isfinite(item):
            return f"field '{name}' is {item}, which is not a number gui-agent reads"
        elif isinstance(item, (int, float)) and not isinstance(item, bool) and abs(item) > MAX_NUMBER:
            return f"field '{name}' is out of range: numbers are at most {MAX_NUMBER:,} either way"
    return None


def check_record(record: dict) -> str | None:
    """What is wrong with one decoded line, or None."""
    if not isinstance(record.get("kind"), str):
        return "field 'kind' must be a string (header, step, act, resume, end)"
    if nesting(record) > MAX_NESTING:
        return f"nested more than {MAX_NESTING} levels deep"
    if wrong := odd_value(record):
        return wrong
    if schema := SCHEMA.get(record["kind"]):  # a kind this version does not know is skipped
        try:
            schema.model_validate(record, context=READING)
        except ValidationError as error:
            return problem(error)
    return None


@dataclass
class Episode:
    path: Path
    header: dict
    steps: list[dict] = field(default_factory=list)
    end: dict | None = None
    damaged_lines: int = 0
    file: str = EPISODE_FILE  # the file in `path` it was read from (an older version: episode.v1.jsonl)
    resumed_after: list[int] = field(default_factory=list)  # the steps after which a `resume` went on

    @property
    def cut_short(self) -> bool:
        return self.end is None

    def image(self, name) -> bytes:
        """The PNG `name` of this episode (a step's screenshot, a demonstration's target crop)."""
        return read_image(self.path, name)

    def screenshot(self, step: dict) -> bytes:
        return self.image(step.get("screenshot"))


def read_image(folder: Path, name) -> bytes:
    """The PNG file `name` in `folder`: only a plain file name, only a regular file that is no link,
    only a size a screenshot can have. Raises EpisodeError saying which of these it is not."""
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise EpisodeError(f"{folder}: {name!r} is not the name of a file in the episode folder; it was not read")
    path = folder / name
    data = read_plain_file(path, MAX_IMAGE_BYTES, "a screenshot")
    check_png_size(data, path)
    return data


def read_plain_file(path: Path, max_bytes: int, what: str) -> bytes:
    """A regular file that is no link and holds at most `max_bytes` (as `what` can); else EpisodeError."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        reason = "a link, which is never followed" if error.errno == errno.ELOOP else error.strerror
        raise EpisodeError(f"cannot read {path}: {reason}") from None
    with open(fd, "rb") as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise EpisodeError(f"{path} is not a regular file; it was not read")
        if info.st_size > max_bytes:
            raise EpisodeError(f"{path} has {info.st_size:,} bytes, more than {what} can have; it was not read")
        return file.read()


def check_png_size(data: bytes, path: Path, outcome: str = "was not decoded") -> None:
    """Refuses a PNG whose header claims more pixels than a screenshot can have (before anything
    decodes it, or writes it); `outcome` says what was not done with it."""
    if data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR" or len(data) < 24:
        raise EpisodeError(f"{path} is not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    if not (0 < width <= MAX_IMAGE_SIDE and 0 < height <= MAX_IMAGE_SIDE and width * height <= MAX_IMAGE_PIXELS):
        raise EpisodeError(f"{path} claims {width}x{height} pixels, more than a screenshot can have "
                           f"(at most {MAX_IMAGE_SIDE} a side, {MAX_IMAGE_PIXELS // 10**6} Mpx); it {outcome}")


def read_episode(path: Path) -> Episode:
    """Reads OUT or OUT/episode.jsonl; a run cut short (no end line, a torn last line) still reads.
    A line that does not fit the schema is an EpisodeError naming the file, the line and the field."""
    path = Path(path)
    file = path / EPISODE_FILE if path.is_dir() else path
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise EpisodeError(f"no episode at {file}; give a run folder written by `gui-agent run`") from None
    except UnicodeDecodeError:
        raise EpisodeError(f"{file} is not text; it is not an episode") from None
    except OSError as error:
        raise EpisodeError(f"cannot read {file}: {error}") from None
    numbered: list[tuple[int, dict]] = []  # (line number, record)
    damaged = 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = marked(line)
        except RecursionError:
            raise EpisodeError(f"{file} line {number} is nested too deep to read; the file is corrupt") from None
        except ValueError:
            record = None
        if not isinstance(record, dict):
            if not numbered:
                break  # a text file of another kind: said below
            if number == len(lines):  # torn by a kill mid-write
                damaged += 1
                continue
            raise EpisodeError(f"{file} line {number} is not an episode record; the file is corrupt")
        numbered.append((number, record))
    if not numbered or numbered[0][1].get("kind") != "header":
        raise EpisodeError(f"{file} does not start with a header line; it is not an episode")
    version = numbered[0][1].get("format")
    if isinstance(version, int) and version > FORMAT_VERSION:
        raise EpisodeError(f"{file} has episode format {version}; upgrade gui-agent to read it")
    for number, record in numbered:
        if wrong := check_record(record):
            raise EpisodeError(f"{file} line {number}{of_step(record)}: {wrong}; the episode cannot be used as it is")
    records = [record for _, record in numbered]
    episode = Episode(file.parent, records[0], damaged_lines=damaged, file=file.name)
    killed: list[dict] = []  # act lines no step line followed: the run was killed in that step
    for record in records[1:]:
        if record["kind"] == "act":
            killed.append(record)
        elif killed and record["kind"] != "step":  # a resume or end line after them
            episode.steps.append(killed_step(killed))
            killed = []
        if record["kind"] == "step":
            killed = []
            episode.steps.append(record)
        elif record["kind"] == "end":
            episode.end = record
        elif record["kind"] == "resume":
            episode.resumed_after.append(record["after_step"])
        elif record["kind"] == "header":
            raise EpisodeError(f"{file} has a second header line; it holds more than one episode")
    if killed:
        episode.steps.append(killed_step(killed))
    for step in episode.steps:
        step["calls"] = [entry["call"] for entry in performed(step) if entry.get("call") is not None]
    return episode


def of_step(record: dict) -> str:
    """ (step N) for a line of step N, else nothing."""
    kind = record.get("kind")
    index = record.get("index") if kind == "step" else record.get("step") if kind == "act" else None
    return f" (step {index})" if type(index) is int and abs(index) <= MAX_NUMBER else ""


def performed(step: dict) -> list[dict]:
    """The actions of a step line in the order they were done: the first one's fields are the
    step's own, the others are in its `then`; none for a step that did no action (an unusable reply)."""
    if step.get("call") is None:
        return []
    return [step, *step.get("then", [])]


def killed_step(acts: list[dict]) -> dict:
    """The step line a run killed after its act lines never wrote: every act but the last was done
    (the loop begins the next only after one went ok), the last was under way."""
    entries = [{"outcome": Outcome.OK, "error": None, **{k: act[k] for k in ("action", "call", "screen") if k in act}}
               for act in acts]
    entries[-1] |= {"outcome": Status.INTERRUPTED, "error": "the run was killed while this was under way",
                    "cut": "during"}
    index = acts[-1]["step"]
    return {"kind": "step", "index": index, "screenshot": f"step-{index:03d}.png", **entries[0],
            **({"then": entries[1:]} if entries[1:] else {})}
