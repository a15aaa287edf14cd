#!/usr/bin/env python3
"""Render the reference outputs the chat-template tests compare against.

Each template is rendered the way HuggingFace transformers' apply_chat_template renders it
(transformers/utils/chat_template_utils.py, _compile_jinja_template and render_jinja_template):
jinja2's ImmutableSandboxedEnvironment with trim_blocks and lstrip_blocks, the loopcontrols
extension and a {% generation %} block tag, a tojson filter that does not escape HTML or
non-ASCII, and the raise_exception and strftime_now globals. The scope holds messages,
tools (None unless the conversation has some), documents (None), add_generation_prompt,
the tokenizer's named special tokens, and the case's extra keyword arguments.
strftime_now reads a fixed clock (CLOCK) so that the outputs are reproducible.

Templates come from ../shared/fixtures/chat-templates/*.jinja (special tokens as in each
model's tokenizer_config.json, written below) and from every GGUF file under
../shared/fixtures/tokenizer and ../shared/models that has tokenizer.chat_template (special
tokens read from tokenizer.ggml.tokens by bos/eos id, the way Specula passes them in).

Writes tests/resources/chat/conversations.json and one <template>.json per template.
Needs Python 3 with jinja2 3.1.x (checked: 3.1.6). Run from anywhere:
    python3 tools/chat-template-golden.py
"""

import datetime
import json
import struct
import sys
from pathlib import Path

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
OUT = REPO / "tests" / "resources" / "chat"
CLOCK = datetime.datetime(2025, 3, 14, 9, 26, 53)

# Special tokens from each model's tokenizer_config.json (None: the tokenizer has none, so
# transformers leaves the variable out of the scope and the template sees it undefined).
JINJA_TEMPLATES = {
    "Mistral-Small-3.2-24B-Instruct-2506": ("<s>", "</s>"),
    "Qwen-Qwen2.5-7B-Instruct": (None, "<|im_end|>"),
    "Qwen-Qwen3-0.6B": (None, "<|im_end|>"),
    "Qwen3-Coder": (None, "<|im_end|>"),
    "deepseek-ai-DeepSeek-R1-Distill-Llama-8B": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "google-gemma-2-2b-it": ("<bos>", "<eos>"),
    "meta-llama-Llama-3.1-8B-Instruct": ("<|begin_of_text|>", "<|eot_id|>"),
}

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a location.\n",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "City name, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"],
                         "description": "Temperature unit"},
                "days": {"type": "integer", "description": "Forecast days", "minimum": 1,
                         "maximum": 14, "multipleOf": 0.5, "nullable": True, "default": None},
            },
            "required": ["location"],
        },
    },
}

TOOL_CALL = {
    "id": "call12345",
    "type": "function",
    "function": {"name": "get_weather", "arguments": {"location": "Paris", "unit": "celsius"}},
}


def msg(role, content, **fields):
    return {"role": role, "content": content, **fields}


CONVERSATIONS = {
    "user_only": {"messages": [msg("user", "Hello!")]},
    "system_user": {"messages": [msg("system", "You are a terse assistant."),
                                 msg("user", "What is 2+2?")]},
    "multi_turn": {"messages": [msg("user", "Hi there"),
                                msg("assistant", "Hello! How can I help?"),
                                msg("user", "Tell me a joke.")]},
    "system_multi_turn": {"messages": [msg("system", "  Answer in French.\n"),
                                       msg("user", "Hi"),
                                       msg("assistant", "Bonjour !"),
                                       msg("user", "How are you?")]},
    "unicode": {"messages": [msg("user", "  Grüße aus Köln! 你好，世界 🌍 — \"quotes\", 'apostrophes',"
                                         " back\\slash\ttab\nnew line <b>&amp;</b>  \n"),
                             msg("assistant", "\u00a0Ça va ? ありがとう 👍\u3000"),
                             msg("user", "مرحبا 𝔘𝔫𝔦𝔠𝔬𝔡𝔢")]},
    "thinking": {"messages": [msg("user", "What is 17*3?"),
                              msg("assistant", "<think>\n17*3 = 51\n</think>\n\n51"),
                              msg("user", "And 17*4?")]},
    "reasoning_content": {"messages": [msg("user", "What is 2+2?"),
                                       msg("assistant", "4", reasoning_content="2+2 is 4."),
                                       msg("user", "Thanks")]},
    "tool_calls": {
        "messages": [msg("system", "You can check the weather."),
                     msg("user", "What's the weather in Paris?"),
                     msg("assistant", "", tool_calls=[TOOL_CALL]),
                     msg("tool", "{\"temperature\": 22, \"condition\": \"sunny\"}",
                         tool_call_id="call12345", name="get_weather"),
                     msg("assistant", "It is 22°C and sunny in Paris."),
                     msg("user", "Thanks!")],
        "extra": {"tools": [WEATHER_TOOL]},
    },
    "tool_call_null_content": {
        "messages": [msg("user", "Weather in Paris?"),
                     msg("assistant", None, tool_calls=[dict(TOOL_CALL, function={
                         "name": "get_weather", "arguments": "{\"location\": \"Paris\"}"})]),
                     msg("tool", "22C", tool_call_id="call12345")],
    },
    "not_alternating": {"messages": [msg("user", "One"), msg("user", "Two")]},
    "assistant_first": {"messages": [msg("assistant", "I speak first."), msg("user", "Ok")]},
    "empty": {"messages": []},
    "multimodal": {"messages": [msg("user", [{"type": "text", "text": "Describe this:"},
                                             {"type": "image"}])]},
}

# Extra keyword arguments tried on top of every conversation (beyond the plain render).
VARIANTS = [
    ("user_only", {"enable_thinking": False}),
    ("multi_turn", {"enable_thinking": True}),
    ("system_user", {"date_string": "14 Mar 2025"}),
]


class GenerationTag(jinja2.ext.Extension):
    """{% generation %}...{% endgeneration %}: renders its body (transformers only records where)."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def make_environment():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def strftime_now(fmt):
        return CLOCK.strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationTag, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def gguf_metadata(path):
    """The key/value metadata of a GGUF file (just enough of the format for this script)."""
    data = path.read_bytes()
    pos = 0
    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def read(fmt):
        nonlocal pos
        value = struct.unpack_from("<" + fmt, data, pos)[0]
        pos += struct.calcsize("<" + fmt)
        return value

    def read_string():
        nonlocal pos
        n = read("Q")
        pos += n
        return data[pos - n:pos].decode("utf-8")

    def read_value(kind):
        if kind == 8:
            return read_string()
        if kind == 9:
            element, n = read("I"), read("Q")
            return [read_value(element) for _ in range(n)]
        return read(scalar[kind])

    if data[:4] != b"GGUF":
        raise ValueError(f"{path} is not a GGUF file")
    pos = 4
    read("I")
    read("Q")
    count = read("Q")
    meta = {}
    for _ in range(count):
        key = read_string()
        meta[key] = read_value(read("I"))
    return meta


def templates():
    """(name, source, template, bos, eos) for every template the tests cover."""
    for name, (bos, eos) in JINJA_TEMPLATES.items():
        path = SHARED / "fixtures" / "chat-templates" / (name + ".jinja")
        yield name, str(path.relative_to(SHARED)), path.read_text(encoding="utf-8"), bos, eos
    for folder in ("fixtures/tokenizer", "models"):
        for path in sorted((SHARED / folder).glob("*.gguf")):
            meta = gguf_metadata(path)
            if "tokenizer.chat_template" not in meta:
                continue
            tokens = meta["tokenizer.ggml.tokens"]

            def token(key):
                return tokens[meta[key]] if key in meta else None
            yield (path.stem, str(path.relative_to(SHARED)), meta["tokenizer.chat_template"],
                   token("tokenizer.ggml.bos_token_id"), token("tokenizer.ggml.eos_token_id"))


def render(env, template, bos, eos, conversation, add_generation_prompt, extra):
    scope = {}
    if bos is not None:
        scope["bos_token"] = bos
    if eos is not None:
        scope["eos_token"] = eos
    scope.update(conversation.get("extra", {}))
    scope.update(extra)
    scope.setdefault("tools", None)
    try:
        compiled = env.from_string(template)
        text = compiled.render(messages=conversation["messages"], documents=None,
                               add_generation_prompt=add_generation_prompt, **scope)
        return {"expected": text}
    except jinja2.exceptions.TemplateSyntaxError:
        raise
    except Exception as e:  # the template rejected the conversation: the test expects that too
        raised = type(e) is jinja2.exceptions.TemplateError
        return {"error": {"raised": raised, "type": type(e).__name__, "message": str(e)}}


def main():
    print(f"jinja2 {jinja2.__version__}", file=sys.stderr)
    env = make_environment()
    OUT.mkdir(parents=True, exist_ok=True)
    write(OUT / "conversations.json", {"clock": CLOCK.isoformat(), "conversations": CONVERSATIONS})
    for name, source, template, bos, eos in templates():
        cases = []
        runs = [(c, {}) for c in CONVERSATIONS] + VARIANTS
        for conversation, extra in runs:
            for agp in (False, True):
                case = {"conversation": conversation, "add_generation_prompt": agp}
                if extra:
                    case["extra"] = extra
                case.update(render(env, template, bos, eos, CONVERSATIONS[conversation], agp, extra))
                cases.append(case)
        errors = sum("error" in c for c in cases)
        print(f"{name}: {len(cases)} cases, {errors} expected errors", file=sys.stderr)
        write(OUT / (name + ".json"), {"name": name, "source": source, "bos_token": bos,
                                        "eos_token": eos, "template": template, "cases": cases})


def write(path, value):
    path.write_text(json.dumps(value, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
