/**
 * Chat templates: {@link dev.specula.tokenizer.chat.ChatTemplate} renders a model's
 * {@code tokenizer.chat_template} for a list of {@link dev.specula.tokenizer.chat.ChatMessage}s
 * exactly as HuggingFace transformers' {@code apply_chat_template} does.
 *
 * <p>The engine is our own Jinja subset (lexer, parser, tree-walking renderer, Python value
 * semantics), not jinjava. Measured against the jinja2 goldens in tests/resources/chat, jinjava
 * 2.7.4 in its most Python-like configuration rendered 217 of 320 template cases correctly: it
 * cannot parse slices such as {@code messages[::-1]}, rejects {@code namespace(key=value)},
 * prints None concatenated to a string as "null" where Python raises, trims only ASCII
 * whitespace, and its tojson uses different separators. Those are parser and value-model
 * differences, not gaps a custom filter can close. What chat templates use is small: the
 * engine here covers jinja2's statements (if, for with loop filters and else, set including
 * namespace attributes and blocks, macro, with, filter, break/continue, raw) and the built-in
 * filters and tests with their Python behaviour, under transformers' settings (trim_blocks,
 * lstrip_blocks, immutable sandbox, its tojson, raise_exception, strftime_now, and the
 * {@code generation} tag). Deliberately absent: include/import/extends (a template is one
 * string), call blocks, recursive loops, and integers beyond 64 bits (an error, never a wrong
 * answer).
 */
package dev.specula.tokenizer.chat;
