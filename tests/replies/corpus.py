"""GLM replies from public material, each with its source, and what they must be read as.

Each entry: `id`; `source` (repository + path, or issue URL); `kind`: "real" (the string verbatim
from the source), "adapted" (the model's own text from the source, put in this protocol's reply
form or given this project's tool names) or "invented" (written here in a shape the source shows
or handles); `dialect`: "text" (agent.planners.interpret), "tool text" (GLM's raw <tool_call> text,
agent.planners.glm_tools.interpret_tools) or "tool calls" (OpenAI tool_calls as a server's glm45 parser returns
them, through ToolsPlanner); the reply: `content`, and `reasoning`, `finish_reason`, `tool_calls`
where the shape matters. Expected: `actions` (each as this project's GLM call text, performed in
order) or `error` (a regular expression the FormatError's message must match), and where it
matters `memory`, `explanation` and `call_text` (the call as the model wrote it, kept in history).
"""

B, E = "<|begin_of_box|>", "<|end_of_box|>"

GLMV = "zai-org/GLM-V"
AGENT_MD = f"{GLMV} examples/gui-agent/glm-45v/agent.md (history example)"
OSWORLD_TEST = f"{GLMV} glmv_reward/tests/cogagent/test_osworld_verifier.py"
WEBVOYAGER_TEST = f"{GLMV} glmv_reward/tests/cogagent/test_webvoyager_verifier.py"
ANDROID_TEST = f"{GLMV} glmv_reward/tests/cogagent/test_android_world_verifier.py"
README = f"{GLMV} README.md ('bracket style may vary ([], [[]], (), <>)'; 'may restate the answer at the end')"
GLM41V = f"{GLMV} examples/gui-agent/glm-41v/gui_agent_41v.py (parse_pc_response: <answer>...Memory:...</answer>)"
OFFICIAL_45V = f"{GLMV} examples/gui-agent/glm-45v/gui_agent_45v.py (parse_pc_response: box, else bare call)"
ISSUE = "https://github.com/zai-org/GLM-V/issues/"
SPEEDRUN = "cua-speedrun/cua-speedrun agents/glm5v_turbo/agent.py (port of OSWorld-V2 mm_agents/glm_eval_agent.py)"
HUD = "hud-evals/hud-python hud/agents/glm_cua.py"
TRYCUA = "trycua/cua libs/python/agent/agent/loops/glm45v.py"
VLLM_REASONING = "vllm-project/vllm tests/reasoning/test_glm4_moe_reasoning_parser.py"
VLLM_TOOLS = "vllm-project/vllm tests/tool_use/test_glm4_moe_tool_parser.py"
SGLANG_TOOLS = "sgl-project/sglang test/srt/test_function_call_parser.py (TestGlm4MoeDetector)"
SGLANG_PORT = "alibaba/rtp-llm rtp_llm/test/glm4_moe_detector_test.py (tests of its port of SGLang's Glm4MoeDetector)"

CLICK_OK = "left_click(start_box='[586,446]', element_info='OK button')"


def _agent_md(number: int, thought: str, call: str, expected: str, boxed: bool = True) -> dict:
    content = f"{thought} {B}{call}{E}\nMemory:\n[]" if boxed else f"{thought} {call}\nMemory:\n[]"
    return {"id": f"agent-md-step-{number}" + ("" if boxed else "-bare"), "source": AGENT_MD, "kind": "adapted",
            "dialect": "text", "content": content, "actions": [expected], "explanation": thought,
            "call_text": call, "memory": "[]"}


def _osworld(name: str, call: str, expected: str, kind: str = "real") -> dict:
    return {"id": f"osworld-verifier-{name}", "source": OSWORLD_TEST, "kind": kind, "dialect": "text",
            "content": f"<think>test</think>Action: {B}{call}{E}", "actions": [expected], "call_text": call}


CORPUS = [
    # The official GLM-4.5V agent's own example: thoughts and calls as the model wrote them (note the
    # apostrophes in the prose and the spaces in the points), put back in the documented reply form.
    _agent_md(1, "I can see that GIMP is open but there's an error message displayed about failing to open a file. "
                 "I need to dismiss this error message first before I can proceed with rotating an image. I'll click "
                 "the OK button to close the error dialog.",
              "left_click(start_box='[586, 446]', element_info='OK button')", CLICK_OK),
    _agent_md(2, "I can see that GIMP is now open and displaying a workspace with some gray circular shapes. To "
                 "rotate/mirror the figure horizontally, I need to access the image transformation tools. I'll click "
                 "on the \"Image\" menu in the top menu bar to find the rotation and mirroring options.",
              "left_click(start_box='[149, 70]', element_info='Image menu')",
              "left_click(start_box='[149,70]', element_info='Image menu')"),
    _agent_md(3, "I can see the Image menu is open and displaying various options. I can see there's a \"Transform\" "
                 "option in the menu, which is likely where I'll find the horizontal mirroring functionality.",
              "left_click(start_box='[162, 212]', element_info='Transform option')",
              "left_click(start_box='[162,212]', element_info='Transform option')"),
    _agent_md(5, "Perfect! I can see the Transform submenu is now open and displaying the transformation options I "
                 "need. I'll click on this option to apply the horizontal flip to the image.",
              "left_click(start_box='[320, 211]', element_info='Flip Horizontally option')",
              "left_click(start_box='[320,211]', element_info='Flip Horizontally option')"),
    # The same reply from a server that dropped the box tokens (skip_special_tokens=True): a bare call.
    _agent_md(6, "I can see the Transform submenu is open in GIMP with the \"Flip Horizontally\" option visible. I'll "
                 "click on the \"Flip Horizontally\" option to mirror the figure as requested.",
              "left_click(start_box='[339, 211]', element_info='Flip Horizontally option')",
              "left_click(start_box='[339,211]', element_info='Flip Horizontally option')", boxed=False),

    # GLM-V's verifier tests: the reply strings verbatim.
    _osworld("left-click", "left_click(start_box='[100, 200]')", "left_click(start_box='[100,200]', element_info='')"),
    _osworld("right-click-element-info", "right_click(start_box='[300, 400]', element_info='123456')",
             "right_click(start_box='[300,400]', element_info='123456')"),
    _osworld("middle-click", "middle_click(start_box='[250, 350]')",
             "middle_click(start_box='[250,350]', element_info='')"),
    _osworld("hover", "hover(start_box='[150, 250]')", "hover(start_box='[150,250]', element_info='')"),
    _osworld("double-click-slightly-off", "left_double_click(start_box='[210, 290]')",
             "left_double_click(start_box='[210,290]', element_info='')"),
    _osworld("drag", "left_drag(start_box='[105, 95]', end_box='[295, 305]')",
             "left_drag(start_box='[105,95]', end_box='[295,305]', element_info='')"),
    _osworld("type", "type(content='Hello World!')", "type(content='Hello World!')"),
    _osworld("scroll", "scroll(start_box='[198, 202]', direction='down', step=3)",
             "scroll(start_box='[198,202]', direction='down', step=3, element_info='')"),
    _osworld("wait", "WAIT()", "WAIT()"),
    _osworld("done", "DONE()", "DONE()"),
    _osworld("fail", "FAIL()", "FAIL()"),
    _osworld("wait-lowercase", "wait()", "WAIT()"),  # the verifier scores it 0; here names are read in any case
    {"id": "webvoyager-verifier-set-of-marks", "source": WEBVOYAGER_TEST, "kind": "real", "dialect": "text",
     "content": f"<think></think><answer>{B}CLICK(point=(214, 100), element_info='Dinners'){E}</answer>",
     "error": "box holds no action call"},  # another action space: refused, never guessed
    {"id": "android-world-verifier-json-action", "source": ANDROID_TEST, "kind": "real", "dialect": "text",
     "content": "Memory: None\nReason: I have selected the image of the Camellia within the PictureThis app. The "
                "current screen is asking to \"Choose related organ\". The image shows a flower, so I need to select "
                "'flower' to help the app identify the plant.\nAction: " + B
                + '{"action_type": "click", "box_2d": [[503,580,718,702]]}' + E,
     "error": "no action call"},

    # Point forms the GLM-V README lists, and its note that the answer may be restated at the end.
    {"id": "readme-double-bracket-box", "source": README, "kind": "invented", "dialect": "text",
     "content": f"Click the OK button. {B}left_click(start_box='[[560,430,612,462]]', element_info='OK button'){E}"
                "\nMemory:\n[]", "actions": [CLICK_OK]},
    {"id": "readme-round-brackets", "source": README, "kind": "invented", "dialect": "text",
     "content": f"{B}left_click(start_box='(586, 446)', element_info='OK button'){E}\nMemory:\n[]",
     "actions": [CLICK_OK]},
    {"id": "readme-angle-brackets", "source": README, "kind": "invented", "dialect": "text",
     "content": f"{B}left_click(start_box='<586,446>', element_info='OK button'){E}\nMemory:\n[]",
     "actions": [CLICK_OK], "call_text": "left_click(start_box='<586,446>', element_info='OK button')"},
    {"id": "readme-angle-brackets-unquoted", "source": README, "kind": "invented", "dialect": "text",
     "content": f"{B}left_click(start_box=<586,446>, element_info='OK button'){E}", "actions": [CLICK_OK]},
    {"id": "readme-answer-restated-after-memory", "source": README, "kind": "invented", "dialect": "text",
     "content": f"I click OK. {B}{CLICK_OK}{E}\nMemory:\n[{{\"file\": \"report.txt\"}}]\n\n"
                f"I click OK. {B}{CLICK_OK}{E}",
     "actions": [CLICK_OK], "memory": '[{"file": "report.txt"}]', "explanation": "I click OK."},

    # GLM-4.1V-Thinking: the answer in <answer>...</answer>, memory inside it.
    {"id": "glm41v-answer-wrapper", "source": GLM41V, "kind": "invented", "dialect": "text",
     "content": f"<think>The dialog asks to confirm.</think><answer>I confirm the dialog. {B}{CLICK_OK}{E}\n"
                "Memory:\n[]</answer>",
     "actions": [CLICK_OK], "memory": "[]", "explanation": "I confirm the dialog."},
    {"id": "issue-79-answer-tag-in-front", "source": ISSUE + "79", "kind": "invented", "dialect": "text",
     "content": f"<answer>The Save button is at the top. {B}left_click(start_box='[52,31]', element_info='Save'){E}"
                "\nMemory:\n[]</answer><|user|>",
     "actions": ["left_click(start_box='[52,31]', element_info='Save')"], "memory": "[]",
     "explanation": "The Save button is at the top."},
    {"id": "issue-133-box-in-final-answer", "source": ISSUE + "133", "kind": "invented", "dialect": "text",
     "content": f"<think>Done already.</think><answer>The file is renamed. {B}DONE(){E}</answer>",
     "actions": ["DONE()"], "explanation": "The file is renamed."},
    # GLM-4.6V on vLLM: reasoning_content empty, the thinking in the content with only its closing tag.
    {"id": "issue-243-thinking-in-content", "source": ISSUE + "243", "kind": "invented", "dialect": "text",
     "reasoning": None,
     "content": f"The user wants the dialog closed, so I press OK.</think>I close the dialog. {B}{CLICK_OK}{E}\n"
                "Memory:\n[]",
     "actions": [CLICK_OK], "explanation": "I close the dialog."},
    # A grounding reply from the issue thread (its first sentence, verbatim), cut off inside <think>.
    {"id": "issue-118-cut-inside-think", "source": ISSUE + "118", "kind": "real", "dialect": "text",
     "content": "<think> 用户现在需要识别每只猫的bounding box和品种。首先得逐个看图片里的猫，确定位置和品种。\n\n"
                "首先从左到右：\n\n第一只：斑纹猫，可能是美国短毛猫（虎斑）。bounding box大概是[[110,147,193,823]]。",
     "finish_reason": "length", "error": "ended inside <think>"},

    # vLLM's glm45 reasoning parser: with only <think> present, reasoning None and all text in content.
    {"id": "vllm-only-open-tag", "source": VLLM_REASONING, "kind": "real", "dialect": "text",
     "content": "<think>This is a reasoning section", "error": "ended inside <think>"},
    {"id": "vllm-only-open-tag-draft-call", "source": VLLM_REASONING, "kind": "invented", "dialect": "text",
     "content": f"<think>The dialog has an OK button. I could click it: {B}{CLICK_OK}{E} but first I should check "
                "whether the file was saved, so maybe key(keys='ctrl+s')", "finish_reason": "length",
     "error": "ended inside <think>"},  # drafts inside unfinished reasoning are never done
    {"id": "vllm-empty-think-block", "source": VLLM_REASONING, "kind": "invented", "dialect": "text",
     "content": f"<think></think>I press Enter to submit. {B}key(keys='Return'){E}\nMemory:\n[]",
     "actions": ["key(keys='enter')"], "explanation": "I press Enter to submit."},
    {"id": "vllm-with-think-no-call", "source": VLLM_REASONING, "kind": "real", "dialect": "text",
     "content": "<think>This is a reasoning section</think>This is the rest", "error": "no action call"},

    # Forms the OSWorld-V2 GLM agent's parser handles (as its port documents them).
    {"id": "osworld-v2-apostrophe-in-value", "source": SPEEDRUN, "kind": "invented", "dialect": "text",
     "content": f"I type the title. {B}type(content='The society's report'){E}\nMemory:\n[]",
     "actions": ["type(content='The society\\'s report')"], "call_text": "type(content='The society's report')"},
    {"id": "osworld-v2-apostrophes-and-comma", "source": SPEEDRUN, "kind": "invented", "dialect": "text",
     "content": f"{B}type(content='It's late, isn't it'){E}", "actions": ["type(content='It\\'s late, isn\\'t it')"]},
    {"id": "osworld-v2-type-then-enter", "source": SPEEDRUN, "kind": "invented", "dialect": "text",
     "content": f"I search for the report. {B}type(content='quarterly report')\nkey(keys='Return'){E}\nMemory:\n[]",
     "actions": ["type(content='quarterly report')", "key(keys='enter')"],
     "call_text": "type(content='quarterly report')\nkey(keys='Return')", "explanation": "I search for the report."},
    {"id": "osworld-v2-click-then-type", "source": SPEEDRUN, "kind": "invented", "dialect": "text",
     "content": f"{B}left_click(start_box='[412,203]', element_info='Name field'); type(content='Ada'){E}",
     "actions": ["left_click(start_box='[412,203]', element_info='Name field')", "type(content='Ada')"]},
    {"id": "osworld-v2-bare-done", "source": SPEEDRUN, "kind": "invented", "dialect": "text",
     "content": f"The task is complete. {B}DONE{E}\nMemory:\n[]", "actions": ["DONE()"], "call_text": "DONE",
     "explanation": "The task is complete."},
    {"id": "osworld-v2-bare-wait-lowercase", "source": SPEEDRUN, "kind": "invented", "dialect": "text",
     "content": f"The page is loading. {B}wait{E}", "actions": ["WAIT()"]},
    {"id": "osworld-v2-bare-fail", "source": SPEEDRUN, "kind": "invented", "dialect": "text",
     "content": f"There is no such setting. {B}FAIL{E}", "actions": ["FAIL()"]},
    {"id": "osworld-v2-call-name-in-quoted-argument", "source": SPEEDRUN, "kind": "invented", "dialect": "text",
     "content": f"I write the note. {B}type(content='Next: left_click(start_box=(1,2)) on the icon'){E}\nMemory:\n[]",
     "actions": ["type(content='Next: left_click(start_box=(1,2)) on the icon')"]},
    {"id": "osworld-v2-bare-call-name-in-quoted-argument", "source": SPEEDRUN, "kind": "invented",
     "dialect": "text", "content": "I write the note. type(content='then left_click(start_box=[5,5])')\nMemory:\n[]",
     "actions": ["type(content='then left_click(start_box=[5,5])')"]},
    {"id": "osworld-v2-box-without-call-prose-quotes-old-call", "source": SPEEDRUN, "kind": "invented",
     "dialect": "text",
     "content": f"Last time I did {CLICK_OK} and the dialog closed. Now the list shows {B}[220,310,480,330]{E}."
                "\nMemory:\n[]", "error": "box holds no action call"},
    {"id": "osworld-v2-grounding-box-and-call-box", "source": SPEEDRUN, "kind": "invented", "dialect": "text",
     "content": f"The OK button is at {B}[560,430,612,462]{E}. {B}{CLICK_OK}{E}\nMemory:\n[]",
     "actions": [CLICK_OK], "explanation": "The OK button is at [560,430,612,462]."},
    {"id": "osworld-v2-memory-with-end-tokens", "source": SPEEDRUN, "kind": "invented", "dialect": "text",
     "content": f"{B}{CLICK_OK}{E}\nMemory:\n[{{\"total\": \"42\"}}]</answer><|user|>\nWhat next?",
     "actions": [CLICK_OK], "memory": '[{"total": "42"}]'},
    {"id": "osworld-v2-memory-not-json", "source": SPEEDRUN, "kind": "invented", "dialect": "text",
     "content": f"{B}WAIT(){E}\nMemory:\nthe form is half filled<|endoftext|>", "actions": ["WAIT()"],
     "memory": "the form is half filled"},
    {"id": "osworld-v2-hold-keys-empty", "source": SPEEDRUN, "kind": "invented", "dialect": "text",
     "content": f"{B}left_click(start_box='[500,300]', hold_keys='', element_info='OK'){E}",
     "actions": ["left_click(start_box='[500,300]', element_info='OK')"]},
    {"id": "osworld-v2-hold-keys-ctrl", "source": SPEEDRUN, "kind": "invented", "dialect": "text",
     "content": f"{B}left_click(start_box='[500,300]', hold_keys='ctrl', element_info='second file'){E}",
     "error": "takes no hold_keys"},  # a plain click would not be the ctrl+click meant
    {"id": "osworld-v2-code-with-quotes-then-paren", "source": SPEEDRUN, "kind": "invented", "dialect": "text",
     "content": f"I type the call. {B}type(content='print('x')'){E}\nMemory:\n[]",
     "actions": ["type(content='print(\\'x\\')')"]},
    {"id": "osworld-v2-triple-click-not-offered", "source": SPEEDRUN, "kind": "invented", "dialect": "text",
     "content": f"{B}triple_click(start_box='[500,300]', element_info='line'){E}", "error": "box holds no action call"},

    # The official agent's fallback without box tokens, and trycua's GLM-4.5V loop's bare click form.
    {"id": "official-bare-after-quoted-call", "source": OFFICIAL_45V, "kind": "invented", "dialect": "text",
     "content": f"The earlier {CLICK_OK} did nothing. I press Enter instead.\nkey(keys='enter')\nMemory:\n[]",
     "actions": ["key(keys='enter')"]},  # the official regex would take the first (quoted) call
    {"id": "trycua-bare-click", "source": TRYCUA, "kind": "invented", "dialect": "text",
     "content": "left_click(start_box='[512,384]')", "actions": ["left_click(start_box='[512,384]', element_info='')"]},

    # GLM's own tool-call text (a server with no tool parser), shapes from the vLLM and SGLang tests.
    {"id": "vllm-tools-real-unknown-tool", "source": VLLM_TOOLS, "kind": "real", "dialect": "tool text",
     "content": "I'll help you check the weather. <tool_call>get_current_weather\n    <arg_key>city</arg_key>\n"
                "    <arg_value>Seattle</arg_value>\n    <arg_key>state</arg_key>\n    <arg_value>WA</arg_value>\n"
                "    <arg_key>unit</arg_key>\n    <arg_value>celsius</arg_value>\n    </tool_call>",
     "error": "no tool 'get_current_weather'"},
    {"id": "sglang-tools-newline-separator", "source": SGLANG_PORT, "kind": "adapted", "dialect": "tool text",
     "content": "<tool_call>left_click\n<arg_key>start_box</arg_key>\n<arg_value>[586, 446]</arg_value>\n"
                "<arg_key>element_info</arg_key>\n<arg_value>OK button</arg_value>\n</tool_call>",
     "actions": [CLICK_OK]},
    {"id": "sglang-tools-literal-newline-separator", "source": SGLANG_PORT, "kind": "adapted",
     "dialect": "tool text",
     "content": "<tool_call>left_click\\n<arg_key>start_box</arg_key>\\n<arg_value>[586, 446]</arg_value>\\n"
                "<arg_key>element_info</arg_key>\\n<arg_value>OK button</arg_value>\\n</tool_call>",
     "actions": [CLICK_OK]},
    {"id": "sglang-tools-no-separator", "source": SGLANG_PORT, "kind": "adapted", "dialect": "tool text",
     "content": "<tool_call>type<arg_key>content</arg_key><arg_value>杭州</arg_value></tool_call>",
     "actions": ["type(content='杭州')"]},
    {"id": "sglang-tools-no-args-newline", "source": SGLANG_PORT, "kind": "adapted", "dialect": "tool text",
     "content": "<tool_call>WAIT\n</tool_call>", "actions": ["WAIT()"]},
    {"id": "sglang-tools-no-args-literal-newline", "source": SGLANG_PORT, "kind": "adapted", "dialect": "tool text",
     "content": "<tool_call>DONE\\n</tool_call>", "actions": ["DONE()"]},
    {"id": "sglang-tools-no-args-no-separator", "source": SGLANG_PORT, "kind": "adapted", "dialect": "tool text",
     "content": "<tool_call>FAIL</tool_call>", "actions": ["FAIL()"]},
    {"id": "sglang-tools-two-calls", "source": SGLANG_TOOLS, "kind": "adapted", "dialect": "tool text",
     "content": "<tool_call>type\n<arg_key>content</arg_key>\n<arg_value>Beijing</arg_value>\n</tool_call>"
                "<tool_call>key\n<arg_key>keys</arg_key>\n<arg_value>Return</arg_value>\n</tool_call>",
     "actions": ["type(content='Beijing')", "key(keys='enter')"]},
    {"id": "sglang-tools-whitespace-kept", "source": SGLANG_TOOLS, "kind": "adapted", "dialect": "tool text",
     "content": "<tool_call>type\n<arg_key>content</arg_key>\n<arg_value>    indented code</arg_value>\n</tool_call>",
     "actions": ["type(content='    indented code')"]},
    {"id": "sglang-tools-invalid-function", "source": SGLANG_TOOLS, "kind": "real", "dialect": "tool text",
     "content": "<tool_call>invalid_func\n<arg_key>city</arg_key>\n<arg_value>Beijing</arg_value>\n</tool_call>",
     "error": "no tool 'invalid_func'"},
    {"id": "vllm-tools-thinking-then-call", "source": VLLM_TOOLS, "kind": "adapted", "dialect": "tool text",
     "content": "<think>I want to scroll the list.</think>\n\nI will scroll down the list.\n<tool_call>scroll\n"
                "<arg_key>start_box</arg_key>\n<arg_value>[500, 600]</arg_value>\n<arg_key>direction</arg_key>\n"
                "<arg_value>down</arg_value>\n<arg_key>step</arg_key>\n<arg_value>3</arg_value>\n</tool_call>",
     "actions": ["scroll(start_box='[500,600]', direction='down', step=3, element_info='')"]},
    {"id": "vllm-tools-incomplete", "source": VLLM_TOOLS, "kind": "adapted", "dialect": "tool text",
     "content": "<tool_call>left_click\n<arg_key>start_box</arg_key>\n<arg_value>[586, 446]</arg_value>",
     "error": "not closed with </tool_call>"},
    {"id": "vllm-tools-draft-in-unfinished-think", "source": VLLM_REASONING, "kind": "invented",
     "dialect": "tool text", "finish_reason": "length",
     "content": "<think>Maybe <tool_call>left_click\n<arg_key>start_box</arg_key>\n<arg_value>[586, 446]</arg_value>\n"
                "</tool_call> but the dialog may", "error": "ended inside <think>"},

    # OpenAI tool_calls as the glm45 tool parser returns them.
    {"id": "tool-calls-name-with-trailing-newline", "source": SGLANG_PORT, "kind": "invented",
     "dialect": "tool calls",
     "tool_calls": [{"name": "left_click\n", "arguments": '{"start_box": "[586, 446]", "element_info": "OK button"}'}],
     "actions": [CLICK_OK]},
    {"id": "tool-calls-zero-args-empty-text", "source": VLLM_TOOLS, "kind": "invented", "dialect": "tool calls",
     "tool_calls": [{"name": "DONE", "arguments": ""}], "actions": ["DONE()"]},
    {"id": "hud-tool-call-correct-form", "source": HUD, "kind": "adapted", "dialect": "tool calls",
     "tool_calls": [{"name": "left_click", "arguments": '{"start_box": "[500, 300]"}'}],
     "actions": ["left_click(start_box='[500,300]', element_info='')"]},
    {"id": "hud-tool-call-leaked-tags", "source": HUD, "kind": "adapted", "dialect": "tool calls",
     "tool_calls": [{"name": "left_click\n<arg_key>start_box</arg_key>\n<arg_value>[114, 167]", "arguments": "{}"}],
     "actions": ["left_click(start_box='[114,167]', element_info='')"]},
    {"id": "hud-glm-computer-not-offered", "source": HUD, "kind": "real", "dialect": "tool calls",
     "tool_calls": [{"name": "glm_computer",
                     "arguments": '{"action": "left_click\\n<arg_key>start_box</arg_key>\\n<arg_value>[114, 167]"}'}],
     "error": "no tool 'glm_computer'"},
]
