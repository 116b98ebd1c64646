"""Image tokens and request bytes per step at common screen sizes, and over a 50-step run of the real
GLMPlanner against the loopback endpoint: the history keeps the last 4 screenshots (half size), so
the image tokens per request stop growing after the fourth step.

    python bench/context_cost.py [--steps 50]

Tokens follow the protocol's resize rule (agent.core.geometry.image_tokens: sides rounded to multiples
of 28 px, one token per 28x28 patch). Each run serves synthetic frames (tests/support/fakes.py: a white
screen with a shaded block, so they compress to almost nothing); request bytes are also given for
screen-like frames (the two demo windows of the recorded screenshots in tests/episodes on a desktop
of each size), which is closer to what a real desktop costs on the wire. No display is needed.
"""

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.core.geometry import Monitor, image_tokens, smart_resize  # noqa: E402
from agent.core.screen import Frame  # noqa: E402
from agent.planners.glm import GLMConfig, GLMPlanner  # noqa: E402
from agent.planners.prompt import HISTORY_IMAGES  # noqa: E402
from tests.support.endpoint import ScriptedEndpoint  # noqa: E402
from tests.support.fakes import synthetic_frame  # noqa: E402

SIZES = [(1280, 720), (1366, 768), (1920, 1080), (2560, 1440)]
REPLY = ("The field is still empty. <|begin_of_box|>left_click(start_box='[412,203]', element_info='Name field')"
         "<|end_of_box|>\nMemory:\n[{\"name\": \"not typed yet\"}]")
SCREENS = [ROOT / "tests" / "episodes" / name / "step-001.png" for name in ("form", "editor")]


def screen_like_frame(width: int, height: int, shift: int) -> Frame:
    """A desktop at this size with the two recorded demo windows on it (the editor over the form's
    right part when the screen is narrow), the editor moved a little each step."""
    canvas = np.zeros((height, width, 3), np.uint8)
    for path, x in zip(SCREENS, (20, max(20, width - 760 - shift))):
        shot = cv2.imread(str(path))
        ys, xs = np.nonzero(shot.any(axis=2))
        window = shot[ys.min():ys.max() + 1, xs.min():xs.max() + 1][:height - 20, :width - x]
        canvas[20:20 + window.shape[0], x:x + window.shape[1]] = window
    return Frame(cv2.cvtColor(canvas, cv2.COLOR_BGR2BGRA), Monitor(0, 0, width, height))


def run(frames) -> list[dict]:
    """The real planner on these frames, against a loopback endpoint; each step's request figures."""
    frames = list(frames)
    with ScriptedEndpoint([REPLY] * len(frames)) as endpoint:
        planner = GLMPlanner(GLMConfig(base_url=endpoint.url, max_retries=0))
        steps = [planner.decide("Fill in the form and submit it", frame).reply.request for frame in frames]
        assert not endpoint.errors, endpoint.errors
        wire = [len(json.dumps(body).encode()) for body in endpoint.requests]
    return [step | {"wire_bytes": size} for step, size in zip(steps, wire)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    figures, capped = {}, True
    print(f"{'screen':<11}{'resized':>11}{'tokens':>8}{'half':>6}{'tokens/step':>13}{'KiB/step':>10}"
          f"{'KiB/step':>10}{f'{args.steps}-step tokens':>17}")
    print(f"{'':<11}{'':>11}{'':>8}{'':>6}{'(steady)':>13}{'synthetic':>10}{'screens':>10}")
    sequences = {}
    for width, height in SIZES:
        size = f"{width}x{height}"
        steps = run(synthetic_frame(width, height, shade=(5 * i) % 256) for i in range(args.steps))
        tokens = [s["image_tokens"] for s in steps]
        steady = HISTORY_IMAGES  # index of the fifth step: four history images from here on
        capped &= len(set(tokens[steady:])) == 1 and tokens[steady] == max(tokens)
        screens = run(screen_like_frame(width, height, 7 * i) for i in range(steady + 2))
        rw, rh = smart_resize(width, height)
        total = sum(tokens)
        print(f"{size:<11}{f'{rw}x{rh}':>11}{image_tokens(width, height):>8}"
              f"{image_tokens(round(width / 2), round(height / 2)):>6}{tokens[steady]:>13}"
              f"{steps[steady]['wire_bytes'] / 1024:>10.0f}{screens[-1]['wire_bytes'] / 1024:>10.0f}{total:>17}")
        sequences[size] = steps
        figures |= {f"tokens_{size}": image_tokens(width, height), f"tokens_per_step_{size}": tokens[steady],
                    f"total_{args.steps}_steps_{size}": total,
                    f"kib_per_step_screens_{size}": round(screens[-1]["wire_bytes"] / 1024)}
    print(f"\nimage tokens per step (the request's current screenshot + history images), steps 1-{args.steps}:")
    for size, steps in sequences.items():
        tokens = [s["image_tokens"] for s in steps]
        runs = []
        for value in tokens:
            if runs and runs[-1][0] == value:
                runs[-1][1] += 1
            else:
                runs.append([value, 1])
        print(f"{size:<11}" + ", ".join(f"{v}" + (f" (x{n})" if n > 1 else "") for v, n in runs))
    print("\nrequest bytes per step (synthetic frames): the text history still grows by one line per step:")
    for size, steps in sequences.items():
        b = [s["wire_bytes"] for s in steps]
        print(f"{size:<11}step 1 {b[0]:,} B, step 5 {b[4]:,} B, step {len(b)} {b[-1]:,} B "
              f"(+{(b[-1] - b[4]) / (len(b) - 5):.0f} B per step after the fifth)")
    print(f"\nimage tokens flat from step {HISTORY_IMAGES + 1} on: {'yes' if capped else 'NO'}")
    print(" ".join(f"{name}={value}" for name, value in figures.items()) + f" history_capped={int(capped)}")


if __name__ == "__main__":
    main()
