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

Writes tests/resources/chat/conversations.json, one <template>.json per template, and
jinja-snippets.json: small templates that pin down the Jinja semantics the engine must share.
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


# Jinja semantics the chat templates lean on, each rendered alone (template, context):
# whitespace control, Python value printing, operators, scoping, loops, filters, tests, errors.
USERS = [{"name": "ann", "age": 31, "admin": True}, {"name": "Bob", "age": 25, "admin": False},
         {"name": "cid", "age": 40}]
SNIPPETS = [
    ("  {% if true %}\n  x\n  {% endif %}\n  y {% if true %}z{% endif %}\n", {}),
    ("a\n  {# c #}\nb", {}),
    ("a  {%- if true -%}  b  {%- endif -%}  c", {}),
    ("{% for i in [1,2,3] %}\n  {{ i }}\n{% endfor %}", {}),
    ("{{- ' a ' -}}  \n {{ 'b' }}", {}),
    ("x {%+ if true %}y{% endif %}|  {%+ if true %}y{% endif %}", {}),
    ("{% raw %}{{ not rendered }}{% endraw %}", {}),
    ("a\n    {%- raw -%}\n  {{ x }}\n  {%- endraw %}\nb", {}),
    ("line1\r\nline2\rline3\r\n", {}),
    ("x\n\n", {}),
    ("  {{ 'v' }}  \n  {% set a = 1 %}\n  {#- c #}\nend", {}),
    ("{#- comment -#}  x\n{# c2 +#}\ny", {}),
    ("\t{% if true %}\tx{% endif %}\n \t {% if true %}y\n{%- endif %}", {}),
    ("a {% if true %}\n  b{% endif %}\n{% if true %}  \n{% endif %}c", {}),
    ("{% for m in ['a', 'b'] %}\n    {%- if loop.first %}\n        first\n    {% endif %}\n    {{ m }}\n{% endfor %}", {}),
    ("{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % -3 }}"
     " {{ 7.5 // 2 }} {{ 1 / 3 }} {{ 4 / 2 }} {{ 2 ** -1 }} {{ -7.5 % 2 }}", {}),
    ("{{ 'a' ~ 1 ~ none ~ true }} {{ 'x' * 3 }} {{ [1] * 2 }} {{ [1,2] + [3] }} {{ 1 + true }} {{ 'ab' ~ 1.0 }}", {}),
    ("{{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' < 'b' }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ [1,2] < [1,3] }}"
     " {{ {'a': [1]} == {'a': [1]} }} {{ [1] == (1,) }} {{ none == none }} {{ x == y }}", {}),
    ("{{ 'b' in 'abc' }} {{ 2 in [1,2] }} {{ 'k' in {'k': 1} }} {{ 3 not in [1] }} {{ 1 in (1, 2) }}", {}),
    ("{{ none }} {{ true }} {{ 1.0 }} {{ 1e100 }} {{ 0.1 + 0.2 }} {{ 1_000 }} {{ 0x1F }} {{ 3.0e-5 }} {{ 123456789.0 * 1e8 }}"
     " {{ 1e16 }} {{ 12345678901234567.0 }} {{ -0.0 }} {{ 100.0 }} {{ 2.5e-4 }}", {}),
    ("{{ [1, 'a', none, true, 1.5, [2], {'k': 'v'}, ('t',), (1, 2), ()] }}", {}),
    ("{{ {'a': 1, 'b': [1, 2]} }} {{ \"it's\" }} {{ ['it\\'s', 'say \"hi\"', 'both \\' \"', 'tab\\tnl\\n\\\\'] }}", {}),
    ("{{ x or 'default' }} {{ 0 or '' }}|{{ 1 and 'yes' }} {{ none and 1 }} {{ not none }} {{ not 'a' }}", {}),
    ("{{ 'yes' if true else 'no' }} {{ 'yes' if false }}|{{ 1 if 0 else 2 if 0 else 3 }}", {}),
    ("{{ -x|abs }} {{ -x }} {{ +x }}", {"x": 3}),
    ("{{ 'abc'[0] }} {{ 'abc'[-1] }} {{ [1,2,3][1:] }} {{ [1,2,3][::-1] }} {{ 'hello'[1:-1] }} {{ 'hello'[::2] }}"
     " {{ [1,2,3,4,5][-2:] }} {{ [1,2,3][5:] }} {{ 'héllo🌍'[::-1] }} {{ [1,2,3,4,5][4:1:-2] }} {{ 'abc'[:] }} {{ x.0 }}",
     {"x": [7, 8]}),
    ("{{ x.a }}|{{ x['a'] }}|{{ x.missing }}|{{ x.missing is defined }}|{{ x.get('a') }}|{{ x.get('m', 'd') }}"
     "|{{ x.get('m') }}|{{ x['missing'] is defined }}|{{ x['items'] }}", {"x": {"a": 1, "items": "shadowed"}}),
    ("{{ x.items() | list }} {{ x.keys() | list }} {{ x.values() | list }}", {"x": {"b": 1, "a": 2}}),
    ("{% for k, v in x.items() %}{{ k }}={{ v }};{% endfor %}{% for k in x %}{{ k }}{% endfor %}", {"x": {"b": 1, "a": 2}}),
    ("{% for c in 'héllo' %}[{{ c }}]{% endfor %}{% for a, b in [[1, 2], (3, 4)] %}{{ a + b }}{% endfor %}", {}),
    ("{{ '  a b  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '\\n\\na\\n'.lstrip('\\n') }}|{{ 'a\\n\\n'.rstrip() }}"
     "|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a b c'.rsplit(' ', 1) }}"
     "|{{ '  a  b c '.split(none, 1) }}|{{ 'x</think>y</think>z'.split('</think>')[-1] }}", {}),
    ("{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x', 'c')) }}|{{ 'aBc'.upper() }}|{{ 'aBc'.lower() }}"
     "|{{ \"hello wORLD it's\".title() }}|{{ 'hELLO'.capitalize() }}|{{ 'a-a-a'.replace('-', '+', 1) }}|{{ 'abcabc'.find('c') }}"
     "|{{ 'abc'.count('') }}|{{ ', '.join(['a', 'b']) }}|{{ '{} and {name}'.format(1, name='x') }}{{ '{0}{0}'.format('a') }}|{{ 'ab'.isalpha() }}"
     "|{{ '12'.isdigit() }}|{{ '7'.zfill(3) }}|{{ 'ab'.center(6, '*') }}|{{ 'a\\nb\\r\\nc'.splitlines() }}", {}),
    ("{{ '\\u00a0x\\u3000'.strip() | length }} {{ ('\\u00a0x\\u3000\\x1f' | trim) | length }} {{ 'é🌍' | length }}"
     " {{ '\\u200bx'.strip() | length }} {{ 'a\\u2028b'.split() }}", {}),
    ("{{ '%s-%05.2f-%d-%r-%x-%%-%5s|%-5s|%e|%g|%g' % ('a', 3.14159, 7, 'q', 255, 'r', 'l', 12345.678, 0.0001, 1e20) }}", {}),
    ("{% for x in [1,2,3] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}"
     "{{ loop.last }}{{ loop.length }}{{ loop.previtem }}-{{ loop.nextitem }}{{ loop.cycle('a','b') }}{{ loop.depth }};{% endfor %}", {}),
    ("{% for x in [1,2,3,4] if x is even %}{{ x }}/{{ loop.length }}{% else %}none{% endfor %}|"
     "{% for x in [] %}x{% else %}empty{% endfor %}|{% for x in [1] if x > 5 %}x{% else %}filtered{% endfor %}", {}),
    ("{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x > 4 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    ("{% for a in [1, 2] %}{% for b in 'xy' %}{{ loop.index }}{{ a }}{{ b }}{% endfor %}{{ loop.index }};{% endfor %}", {}),
    ("{% set x = 0 %}{% for i in [1,2] %}{{ x }}{% set x = i %}{{ x }}{% endfor %}{{ x }}", {}),
    ("{% for i in [1,2] %}{% if i == 2 %}{{ y }}{% endif %}{% set y = i %}{% endfor %}[{{ y }}]", {}),
    ("{% set ns = namespace(n=0, seen=[]) %}{% for i in [1,2,3] %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}"
     "{% set ns2 = namespace({'a': 1}, b=2) %}{{ ns2.a + ns2.b }}", {}),
    ("{% if true %}{% set y = 3 %}{% endif %}{{ y }}{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set t = (1, 2) %}{{ t }}"
     "{% set u = 1, %}{{ u }}", {}),
    ("{% set block %}  inner {{ 1 + 1 }}  {% endset %}[{{ block }}]{% set up | upper %}abc{% endset %}{{ up }}", {}),
    ("{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}{{ a is defined }}{% filter upper %}hello {{ 'x' }}{% endfilter %}", {}),
    ("{% macro greet(name, greeting='Hi') %}{{ greeting }}, {{ name }}!{% endmacro %}{{ greet('Bob') }} "
     "{{ greet('Al', greeting='Yo') }} {{ greet() }} {{ greet(name='Cy') }}", {}),
    ("{% macro m() %}{{ y }}{% endmacro %}{% set y = 5 %}{{ m() }}{% set y = 6 %}{{ m() }}", {}),
    ("{% macro outer(x) %}[{% for i in x %}{{ inner(i) }}{% endfor %}]{% endmacro %}"
     "{% macro inner(v) %}<{{ v }}>{% endmacro %}{{ outer([1, 2]) }}", {}),
    ("{{ [3,1,2] | sort }} {{ ['b','A','c'] | sort }} {{ ['b','A','c'] | sort(case_sensitive=true) }}"
     " {{ [3,1,2] | sort(reverse=true) }} {{ users | sort(attribute='age') | map(attribute='name') | join(',') }}",
     {"users": USERS}),
    ("{{ users | selectattr('age', 'gt', 30) | map(attribute='name') | list }} {{ users | rejectattr('admin') | list | length }}"
     " {{ [1,2,3,4] | select('odd') | list }} {{ [1,2,3,4] | reject('odd') | list }} {{ ['a','b'] | map('upper') | list }}"
     " {{ users | selectattr('admin', 'defined') | map(attribute='name') | join }} {{ users | map(attribute='x', default='-') | join }}"
     " {{ users | selectattr('name', 'equalto', 'Bob') | list | length }} {{ [0, 1, '', 'a'] | select | list }}",
     {"users": USERS}),
    ("{{ [1,2,2,3] | unique | list }} {{ ['a', 'A'] | unique | list }} {{ [1,5,3] | max }} {{ [1,5,3] | min }} {{ [1,2,3] | sum }}"
     " {{ users | sum(attribute='age') }} {{ [1,2,3] | first }} {{ [1,2,3] | last }} {{ [] | first }}|{{ 'abc' | reverse }}"
     " {{ [1,2] | reverse | list }} {{ users | max(attribute='age') }} {{ [1, 2, 3, 4, 5] | batch(2) | list }}",
     {"users": USERS}),
    ("{{ x | default('d') }} {{ none | default('d') }} {{ '' | default('d', true) }} {{ 3.7 | int }} {{ '42' | int }}"
     " {{ 'x' | int }} {{ '3.5' | int }} {{ '3.5' | float }} {{ 2.5 | round }} {{ 3.5 | round }} {{ 2.675 | round(2) }}"
     " {{ 2.1 | round(0, 'ceil') }} {{ -3 | abs }} {{ 3 | round }} {{ 'x' | float }} {{ true | int }}", {}),
    ("{{ 'hello world-foo(bar' | title }} {{ 'HELLO' | lower }} [{{ 'hi' | center(7) }}] {{ 'a\\nb' | indent(2) }}"
     " {{ 'a\\nb\\n\\nc' | indent(2, true, true) }} {{ 'a\\n\\nb\\n' | indent }} {{ 'x' | replace('x', 'y') }}"
     " {{ 'one two three' | wordcount }} {{ 'long text here and more' | truncate(9) }} {{ 'long text here and more' | truncate(9, true) }}",
     {}),
    ("{{ x | tojson }} {{ x | tojson(indent=2) }} {{ 'é\"\\n<\\x01\\u2028' | tojson }} {{ [1.0, 2.5e-7, none, true, 1e22] | tojson }}"
     " {{ x | tojson(sort_keys=true) }} {{ {'a': 1} | tojson(separators=(',', ':')) }} {{ 'é' | tojson(ensure_ascii=true) }}"
     " {{ {1: 'int key'} | tojson }} {{ [] | tojson(indent=2) }} {{ {} | tojson }} {{ (1, 2) | tojson }}",
     {"x": {"b": [1, {"c": "é"}], "a": None}}),
    ("{{ x | items | list }} {{ {'b': 1, 'a': 2} | dictsort }} {{ 'ab' | list }} {{ 5 is odd }} {{ 6 is divisibleby 3 }}"
     " {{ 'a' is string }} {{ 1 is number }} {{ true is boolean }} {{ none is none }} {{ {} is mapping }} {{ [] is sequence }}"
     " {{ 'x' is in 'xyz' }} {{ 1 is integer }} {{ true is integer }} {{ 1.0 is float }} {{ range is callable }}"
     " {{ 'a' is iterable }} {{ 1 is iterable }} {{ x is sameas x }} {{ none is sameas none }} {{ 3 is gt 2 }}"
     " {{ 3 is eq 3 }} {{ false is false }} {{ 0 is false }} {{ 'A' is upper }} {{ 'upper' is filter }} {{ 'odd' is test }}",
     {"x": {"a": 1}}),
    ("{{ range(3) | list }} {{ range(1, 10, 3) | list }} {{ range(5, 0, -2) | list }} {{ dict(a=1) }} {{ dict([('k', 2)]) }}", {}),
    ("{{ strftime_now('%Y-%m-%d %H:%M:%S %a %A %b %B %j %p %I %y %-d %-m %e %F %%') }}", {}),
    ("{{ 'safe' | safe }} {{ '<b>' | e }} {{ ('<b>' | safe) + '<i>' }} {{ '<i>' + ('<b>' | safe) }} {{ ('<b>' | safe) ~ '<i>' }}"
     " {{ '%d items' | format(3) }} {{ ('<b>' | safe) | length }} {{ '<b>' | string }}", {}),
    ("{% generation %}gen {{ 1 }}{% endgeneration %}", {}),
    ("{{ messages | length }} {{ add_generation_prompt }} {{ tools }} {{ documents }} {{ bos_token is defined }}", {}),
    ("{{ 'a' }}{# comment #}\n{%- if true %}\nx{% endif %}", {}),
    ("{{ '\\x41\\u00e9\\101\\q' }} {{ \"multi\nline\" }} {{ 'a' 'b' }}", {}),
    ("{{ messages2[0]['content'][0]['text'] }} {{ messages2[0].content[1].type }}",
     {"messages2": [{"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image"}]}]}),
    ("{{ (1, 2, 3)[1:] }} {{ 10 // 3 * 2 }} {{ 2 * 3 ** 2 }} {{ not 1 == 2 }} {{ 5 / 2 }} {{ 6 / 3 }} {{ 0.1 * 3 }} {{ 1e-7 }}"
     " {{ 2 ** 62 }} {{ 3 * 'ab' }} {{ [1, 2] * 0 }} {{ 'a' * -1 }}|{{ -1 | abs }} {{ (-1) | abs }} {{ 1 if true else 2 | string }}", {}),
    ("{{ 1 + 2 ~ 3 }}", {}),
    ("{{ [1,2,3] | map('string') | join('-') }} {{ '%.1f' | format(2.25) }} {{ '%(a)s=%(b)d' % {'a': 'x', 'b': 2} }}"
     " {{ '{:>5}|{:<4}|{:^5}|{:.2f}|{:05d}|{:+d}'.format('a', 'b', 'c', 3.14159, 42, 7) }}", {}),
    ("{% for i in [1, 1, 2, 2, 1] %}{{ loop.changed(i) }},{% endfor %}", {}),
    ("{{ users | map(attribute='name.0') | join }} {{ x is defined and x }} {{ '' if none else 'n' }}",
     {"users": USERS, "x": "val"}),
    ("{{ messages2[0] == messages2[0] }} {{ messages2[0] == {'role': 'user'} }} {% set y = y | default([]) + [1] %}{{ y }}",
     {"messages2": [{"role": "user", "content": "a"}]}),
    ("{{ 'x' }}   {%- if true %} y {% endif -%}   \n  z", {}),
    ("{%- for m in ['a', 'b'] -%}\n  [{{ m }}]\n{%- endfor -%}\n", {}),
    ("{% macro m(a) %}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1) }}{{ m(1, 2, k=3) }}", {}),
    ("{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}", {}),
    ("{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, b=2) }}", {}),
    ("{{ x.__class__ }}|{{ ''.join(['a', 'b']) }}|{{ {'a': 1}.get('b', {}).get('c', 'deep') }}", {"x": "s"}),
    ("{{ 'abc' | first }}{{ 'abc' | last }} {{ none | string }} {{ none | tojson }} {{ '  ' | trim | length }}"
     " {{ '\\uffff' < '\\U0001F600' }} {{ 'b' > 'a' }}", {}),
    ("{{ none | length }}", {}),
    ("{% set content = '  hi  ' %}{{ '\\n' + content | trim + '\\n' }}", {}),
    ("{%- if not messages %}empty{% endif %} {{ 'a' if 'x' in 'xyz' else 'b' }}", {}),
    ("  {%- generation %}\n  gen\n  {%- endgeneration %}", {}),
    ("{% for a, b in {'x': 1} | items %}{{ a }}{{ b }}{% endfor %}{% for k, v in {'b': 1, 'a': 2} | dictsort %}{{ k }}{% endfor %}", {}),
    ("{{ tools | tojson(indent=4) }}", {"tools": [{"name": "f", "parameters": {"x": {"type": "number", "minimum": 0.5}}}]}),
    ("{{ x | tojson }} {{ x | string }} {{ x }}", {"x": {"nested": {"list": [1, 2.0, "three", None, True, False]}}}),
    ("{{ raise_exception('boom: ' ~ 42) }}", {}),
    ("ok {% if x %}{{ raise_exception('x was ' ~ x) }}{% endif %}", {"x": "set"}),
    ("{{ x.y.z }}", {}),
    ("{{ x.y.z }}", {"x": {}}),
    ("{{ 'a' + 1 }}", {}),
    ("{{ none + 'a' }}", {}),
    ("{{ [].append(1) }}", {}),
    ("{% set l = [] %}{{ l.append }}", {}),
    ("{{ undefined_fn() }}", {}),
    ("{{ 1 / 0 }}", {}),
    ("{% set a, b = [1] %}", {}),
    ("{{ x | items | list }}", {"x": "str"}),
    ("{{ 'a' in none }}", {}),
    ("{{ 'a' in 1 }}", {}),
    ("{{ 1 in 'a' }}", {}),
    ("{{ range(200000) | length }}", {}),
    ("{{ 1 < 'a' }}", {}),
    ("{% for x in none %}{% endfor %}", {}),
    ("{% for x in 3 %}{% endfor %}", {}),
    ("{{ y + 1 }}", {}),
    ("{% set ns.x = 1 %}", {"ns": {"a": 1}}),
    ("{{ [1, 2] | join(', ') }} {{ [1, none] | join }}", {}),
    ("{{ {'a': 1} | first }} {{ {'a': 1}['a'] }}", {}),
    ("{% if x %}\nunclosed", {}),
    ("{{ 1 + }}", {}),
    ("line1\n{% for x in %}{% endfor %}", {}),
    ("a\nb\n{% unknowntag %}", {}),
    ("{{ x\n | nosuchfilter }}", {}),
    ("{{ 'unterminated }}", {}),
    ("\n\n{% endif %}", {}),
    ("{{ x is nosuchtest }}", {}),
    ("{% for %}", {}),
    ("{{ (1, 2 }}", {}),
    ("{# unclosed comment", {}),
    ("{% macro m(a=1, b) %}{% endmacro %}", {}),
]


def render_snippet(env, template, context):
    try:
        compiled = env.from_string(template)
    except jinja2.exceptions.TemplateSyntaxError as e:
        return {"error": {"syntax": True, "line": e.lineno, "type": type(e).__name__, "message": e.message}}
    scope = {"messages": [], "add_generation_prompt": False, "tools": None, "documents": None}
    scope.update(context)
    try:
        return {"expected": compiled.render(**scope)}
    except Exception as e:
        raised = type(e) is jinja2.exceptions.TemplateError
        return {"error": {"raised": raised, "type": type(e).__name__, "message": str(e)}}


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
        scope.setdefault("documents", None)
        text = compiled.render(messages=conversation["messages"],
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
    snippets = [dict(template=t, context=c, **render_snippet(env, t, c)) for t, c in SNIPPETS]
    write(OUT / "jinja-snippets.json", {"clock": CLOCK.isoformat(), "snippets": snippets})
    print(f"jinja-snippets: {len(snippets)} cases, {sum('error' in x for x in snippets)} expected errors",
          file=sys.stderr)
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
