"""`gui-agent export`: fine-tuning data for GLM-4.5V from episodes, in ms-swift's format: one JSON
line per step, `{"messages": [{"role": "user", ...}, {"role": "assistant", ...}], "images": [...]}`.

The user message is the one the agent sent at that step, rebuilt from the episode as `resume`
rebuilds it (task, action space, history with its half-size screenshots, memory, the correction
after a step that went wrong, the screenshot), with one `<image>` where each image was; the images
are written once each beside the data file, as they were sent. The assistant message is the reply
as GLM-4.5V wrote it: its reasoning in `<think>...</think>`, then the answer with its box tokens
and memory. Secrets stay the placeholders the episode holds, and their pixels stay masked, as the
screenshots were stored.

A recorded demonstration (`gui-agent record`) gives one sample per recorded action: the message the
agent would have sent on that screen with the actions before it as history, and the action as the
GLM call it corresponds to (its point in 0-999 of the recorded screen), explained from its target
(the text at it, the window). A run of the embedded planner (`--model local`) is exported as a
text-dialect run: it writes its decisions as GLM-4.5V's replies (an explanation, the calls in box
tokens), which become the assistant messages, with `Memory:` added; like a demonstration's, they
show the model what was done, not what a model thought.

Exported: episodes of the text dialect (planner `glm`), of the embedded planner and demonstrations
that ended `done` (all, with `everything`), every step whose reply was usable; a run that offered
skills with the skills `skills_dir` (`--skills DIR`) describes now, or without it the run's own
folder, when its episode names a skills folder inside it: an episode never chooses a folder from
elsewhere whose skills go into the data. Not exported, with the reason: the tools dialect, runs that
offered Python skills (export runs no code) or skills the folder does not have, samples whose text
holds a literal `<image>`: ms-swift's template takes every `<image>` in a message for the next image
and has no escape, so the images would shift; escaping it would train on text the model was never
sent. Nothing is written through a link, and the data file is written last, whole, under its name.
"""

import hashlib
import io
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from agent.core.defaults import PlannerKind, Status
from agent.core.episode import Episode, read_episode, write_file
from agent.core.errors import AgentError, EpisodeError, FormatError
from agent.core.planner import Reply, feedback_for

IMAGE = "<image>"
TEXT = "text"  # the one dialect exported: its requests are rebuilt as `resume` rebuilds them


def text_dialect():
    from agent.planners.dialects import dialect

    return dialect(TEXT)


@dataclass
class Exported:
    samples: int = 0
    runs: int = 0
    images: int = 0
    skipped: list[str] = field(default_factory=list)  # "RUN: why", a run or a step not exported
    refused: list[str] = field(default_factory=list)  # "RUN step N: why", samples found bad
    skills_from: set[str] = field(default_factory=set)  # "FOLDER (--skills)", "FOLDER (the run's own folder)"


def export(runs: list[Path], out: Path, everything: bool = False, check: bool = False,
           skills_dir: Path | None = None) -> Exported:
    """Writes OUT (JSON lines) and OUT's images folder beside it; what was written and what was not.
    EpisodeError when they cannot be written, saying what to do."""
    out = Path(out)
    exporter = Exporter(out.parent / f"{out.stem}-images", everything, check, skills_dir)
    if exporter.images_dir.is_symlink():
        raise EpisodeError(f"{exporter.images_dir} is a link; export never writes through links: remove it, or "
                           "choose another --out")
    lines = [line for run in runs for line in exporter.lines_of(run)]
    write_file(out, ("\n".join(lines) + "\n" if lines else "").encode("utf-8"))  # last, whole, under its name
    exporter.result.images = len(exporter.written)
    return exporter.result


@dataclass
class Exporter:
    images_dir: Path
    everything: bool
    check: bool
    skills_dir: Path | None
    result: Exported = field(default_factory=Exported)
    written: set[str] = field(default_factory=set)  # the images' file names

    def __post_init__(self):
        text = text_dialect()
        self.planner = text(text.config_type(api_key="not-used"))  # its history is rebuilt as `resume` rebuilds it

    def lines_of(self, run: Path) -> list[str]:
        """The JSON lines of a run's samples, their images written; what was not exported, in `result`."""
        try:
            episode = read_episode(run)
            if why := not_exported(episode, self.everything):
                raise AgentError(why)
            skills = offered_skills(episode, self.skills_dir, self.result.skills_from)
        except AgentError as error:
            self.result.skipped.append(f"{run}: {error}")
            return []
        self.result.runs += 1
        demonstration = episode.header.get("planner") == PlannerKind.DEMONSTRATION
        history: list = []  # a demonstration's earlier actions, as the agent's history would hold them
        lines = []
        for index, step in enumerate(episode.steps):
            if "call" not in step or not (step.get("raw") or demonstration):
                continue  # an unusable reply, or a step the run ended in before any reply
            where = f"{episode.path} step {step.get('index')}"
            try:
                messages, images = (demonstrated(episode, step, history) if demonstration
                                    else sample(self.planner, episode, index, skills))
            except (AgentError, OSError, ValueError) as error:
                self.result.skipped.append(f"{where}: {error}")
                continue
            if problem := mismatched(messages, images) or (self.check and checked(messages, images)):
                self.result.refused.append(f"{where}: {problem}")
                continue
            lines.append(json.dumps({"messages": messages, "images": self.written_images(images)}, ensure_ascii=False))
            self.result.samples += 1
        return lines

    def written_images(self, images: list[bytes]) -> list[str]:
        """The images' names relative to the data file, each written once (a link at its name is replaced)."""
        names = []
        for png in images:
            name = f"{hashlib.sha256(png).hexdigest()[:24]}.png"
            if name not in self.written:
                write_file(self.images_dir / name, png)
                self.written.add(name)
            names.append(f"{self.images_dir.name}/{name}")
        return names


def not_exported(episode: Episode, everything: bool) -> str | None:
    planner, settings = episode.header.get("planner"), episode.header.get("settings") or {}
    status = (episode.end or {}).get("status")
    if not everything and status != Status.DONE:
        return f"it ended {status or 'without an end line'}, not done (--all exports it)"
    if planner == PlannerKind.DEMONSTRATION:
        return None
    if planner not in (text_dialect().name, "local"):
        return (f"planner {planner!r}: only the text dialect's replies, the embedded planner's and demonstrations "
                "are exported (the tools dialect is not yet)")
    if settings.get("protocol", TEXT) != TEXT:
        return f"protocol {settings.get('protocol')!r}: only the text dialect is exported"
    return None


def offered_skills(episode: Episode, skills_dir: Path | None, sources: set[str]) -> list[dict] | None:
    """The skills a run offered, as `skills_dir` describes them now, or without it the run's own folder
    (as `resume` offers them again); AgentError when they cannot be rebuilt so. The folder read is
    added to `sources`. Python skills are not: export runs no code."""
    from agent.demos.skills import list_skills

    settings = episode.header.get("settings") or {}
    names = settings.get("skills")
    if not names:
        return None
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise AgentError("its header's settings.skills is not a list of names")
    folder, source = (skills_dir, "--skills") if skills_dir else (own_skills_folder(episode), "the run's own folder")
    found = {one.name: one for one in list_skills(folder)}
    if missing := [name for name in names if name not in found]:
        raise AgentError(f"the run offered skills that are no demonstration skills in {folder} now: "
                         f"{', '.join(missing)} (Python skills are not loaded: export runs no code)")
    if not skills_dir and (outside := [name for name in names if not inside(found[name].path, episode.path)]):
        raise AgentError(f"its skills {', '.join(outside)} are links out of the run's folder; --skills DIR "
                         "exports it with the skills in DIR")
    sources.add(f"{folder} ({source})")
    return [found[name].describe() for name in names]


def own_skills_folder(episode: Episode) -> Path:
    """The skills folder the episode names, when it is in the run's own folder; else AgentError."""
    named = (episode.header.get("settings") or {}).get("skills_dir")
    folder = episode.path / named if isinstance(named, str) and named else None
    if folder is None or not inside(folder, episode.path) or not folder.is_dir():
        raise AgentError(f"it offered skills from {named or 'the default folder'}, not from its own folder, and "
                         "export reads no folder an episode names: --skills DIR exports it with the skills in DIR")
    return folder


def inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError, ValueError):  # a loop of links (RuntimeError before Python 3.13), a NUL
        return False


def sample(planner, episode: Episode, index: int, skills: list[dict] | None = None) -> tuple[list[dict], list[bytes]]:
    """The step's two messages, in swift's form, and its images in order."""
    from agent.core.actions import secret_names
    from agent.planners.prompt import build_content

    step, before = episode.steps[index], episode.steps[:index]
    planner.restore(replace(episode, steps=before))
    resumed = before and before[-1].get("index") in episode.resumed_after  # a resumed run starts with no correction
    feedback = feedback_for(before[-1].get("outcome", ""), before[-1].get("error")) if before and not resumed else None
    secrets = secret_names((episode.header.get("settings") or {}).get("secrets"))  # as the run told its model
    content = build_content(episode.header.get("task", ""), planner.turns, planner.memory, episode.screenshot(step),
                            feedback, skills, secrets=secrets)
    answer = assistant(step)
    if episode.header.get("planner") == PlannerKind.LOCAL and "Memory:" not in answer:
        answer += "\nMemory:\n[]"  # the output format asks for it; the embedded planner keeps no memory
    return messages_of(content, answer)


def demonstrated(episode: Episode, step: dict, history: list) -> tuple[list[dict], list[bytes]]:
    """A recorded action's sample: the message on its screen with the actions before it (`history`,
    which this one then joins), and the action as GLM-4.5V would answer it."""
    from agent.core.screen import Frame
    from agent.demos.record import explanation
    from agent.planners.prompt import HISTORY_IMAGES, Turn, build_content
    from agent.planners.reply import BOX_CLOSE, BOX_OPEN

    screenshot = episode.screenshot(step)
    content = build_content(episode.header.get("task", ""), history, "[]", screenshot)
    thought = explanation(step)
    history.append(Turn(thought, step["call"], Frame.from_png(screenshot).png(0.5)))
    for old in history[:-HISTORY_IMAGES]:
        old.image_png = None
    answer = f"<think>{thought}</think>{thought} {BOX_OPEN}{step['call']}{BOX_CLOSE}\nMemory:\n[]"
    return messages_of(content, answer)


def messages_of(content: list[dict], answer: str) -> tuple[list[dict], list[bytes]]:
    """swift's two messages from a request's content parts (one <image> per image) and the answer."""
    text, images = "", []
    for part in content:
        if part["type"] == "text":
            text += part["text"]
        else:
            text += IMAGE
            images.append(data_url_bytes(part["image_url"]["url"]))
    return [{"role": "user", "content": text}, {"role": "assistant", "content": answer}], images


def data_url_bytes(url: str) -> bytes:
    import base64

    return base64.b64decode(url.split(",", 1)[1])


def assistant(step: dict) -> str:
    """The reply as GLM-4.5V writes it: reasoning in <think>...</think> (where the server had split it
    off), then the answer as it came."""
    raw, reasoning = step["raw"], (step.get("reasoning") or "").strip()
    if reasoning and "<think>" not in raw:
        return f"<think>{reasoning}</think>{raw}"
    return raw


def mismatched(messages: list[dict], images: list[bytes]) -> str | None:
    """Why ms-swift would not pair the sample's images with the places they were sent; None when it would."""
    tokens = sum(message["content"].count(IMAGE) for message in messages)
    if tokens != len(images):
        return (f"{tokens} {IMAGE} tokens for {len(images)} images: its text holds a literal {IMAGE}, which "
                "ms-swift's template takes for an image (it has no escape)")
    return None


def checked(messages: list[dict], images: list[bytes]) -> str | None:
    """What is wrong with a sample, read again as the agent reads a reply; None when nothing."""
    from PIL import Image

    for png in images:
        try:
            with Image.open(io.BytesIO(png)) as image:
                image.verify()
        except Exception as error:  # Pillow's errors for a broken image are of many kinds
            return f"an image does not open ({error})"
    try:
        text_dialect().read(Reply(messages[1]["content"]))
    except FormatError as error:
        return f"the reply does not read: {error}"
    return None
