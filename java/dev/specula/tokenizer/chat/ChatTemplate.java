package dev.specula.tokenizer.chat;

import dev.specula.gguf.GgufMetadata;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A model's chat template: the Jinja program (GGUF key {@code tokenizer.chat_template}) that
 * turns a conversation into the prompt text the model was trained on, rendered exactly as
 * HuggingFace transformers' {@code apply_chat_template} renders it (jinja2 with trim_blocks and
 * lstrip_blocks, Python value semantics, transformers' tojson, raise_exception and
 * strftime_now). Immutable and safe to share; parse once, render per request.
 *
 * <p>The scope a template sees: {@code messages}, {@code add_generation_prompt}, {@code tools}
 * and {@code documents} (None unless given), {@code bos_token} and {@code eos_token} (the
 * vocabulary's texts, undefined when the model has none), then the caller's extra context
 * (e.g. {@code tools}, {@code enable_thinking}, {@code date_string}), which wins over the rest.
 *
 * <p>The rendered text usually starts with the BOS token's text when the template prints
 * {@code bos_token}; tokenize it without adding another BOS.
 */
public final class ChatTemplate {
    public static final String METADATA_KEY = "tokenizer.chat_template";
    /** Named variants: {@code tokenizer.chat_template.<name>}, e.g. "tool_use". */
    public static final String VARIANT_KEY_PREFIX = METADATA_KEY + ".";

    /**
     * ChatML, the documented default for a model without a template (llama.cpp's "chatml"):
     * {@code <|im_start|>role\ncontent<|im_end|>\n} per message, then
     * {@code <|im_start|>assistant\n} when a generation prompt is asked for. Only opt into it
     * knowingly: a model not trained on ChatML answers such a prompt poorly.
     */
    public static final String CHATML_SOURCE = """
            {%- for message in messages %}
                {{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}
            {%- endfor %}
            {%- if add_generation_prompt %}
                {{- '<|im_start|>assistant\\n' }}
            {%- endif %}
            """;

    private final String name;
    private final String source;
    private final String normalizedSource;
    private final List<JinjaNode.Stmt> body;
    private final String bosToken;
    private final String eosToken;
    private final Clock clock;

    private ChatTemplate(String name, String source, String normalizedSource, List<JinjaNode.Stmt> body,
                         String bosToken, String eosToken, Clock clock) {
        this.name = name;
        this.source = source;
        this.normalizedSource = normalizedSource;
        this.body = body;
        this.bosToken = bosToken;
        this.eosToken = eosToken;
        this.clock = clock;
    }

    /**
     * Parses a template. The name appears in every error message.
     *
     * @throws ChatTemplateException of kind SYNTAX, with the line and column at fault
     */
    public static ChatTemplate of(String name, String source) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(source, "source");
        String normalized = JinjaLexer.normalize(source);
        try {
            return new ChatTemplate(name, source, normalized, JinjaParser.parse(normalized), null, null,
                    Clock.systemDefaultZone());
        } catch (JinjaError e) {
            throw exception(name, normalized, e);
        }
    }

    /** Parses a template given inline (named "inline" in errors). */
    public static ChatTemplate of(String source) {
        return of("inline", source);
    }

    /** ChatML ({@link #CHATML_SOURCE}), for callers that opt into a default. */
    public static ChatTemplate chatml() {
        return of("chatml (default)", CHATML_SOURCE);
    }

    /** The model's template with its BOS/EOS texts, if the GGUF file has one. */
    public static Optional<ChatTemplate> findInGguf(GgufMetadata metadata) {
        return metadata.optString(METADATA_KEY).map(source -> fromGguf(metadata, METADATA_KEY, source));
    }

    /**
     * The model's template with its BOS/EOS texts.
     *
     * @throws ChatTemplateException of kind MISSING if the file has none
     */
    public static ChatTemplate fromGguf(GgufMetadata metadata) {
        return findInGguf(metadata).orElseThrow(() -> new ChatTemplateException(modelName(metadata),
                ChatTemplateException.Kind.MISSING, "the model has no " + METADATA_KEY
                + " in its metadata; give a template explicitly, or opt into ChatTemplate.chatml()", 0, 0));
    }

    /** A named variant ({@code tokenizer.chat_template.<variant>}), e.g. "tool_use". */
    public static ChatTemplate fromGguf(GgufMetadata metadata, String variant) {
        String key = VARIANT_KEY_PREFIX + variant;
        return metadata.optString(key).map(source -> fromGguf(metadata, key, source))
                .orElseThrow(() -> new ChatTemplateException(modelName(metadata), ChatTemplateException.Kind.MISSING,
                        "the model has no " + key + " in its metadata", 0, 0));
    }

    /** The model's template, else ChatML with the model's BOS/EOS texts (the opt-in default). */
    public static ChatTemplate fromGgufOrChatml(GgufMetadata metadata) {
        return findInGguf(metadata).orElseGet(() -> chatml().withSpecialTokens(
                tokenText(metadata, "tokenizer.ggml.bos_token_id"), tokenText(metadata, "tokenizer.ggml.eos_token_id")));
    }

    private static ChatTemplate fromGguf(GgufMetadata metadata, String key, String source) {
        return of(modelName(metadata) + " " + key, source).withSpecialTokens(
                tokenText(metadata, "tokenizer.ggml.bos_token_id"), tokenText(metadata, "tokenizer.ggml.eos_token_id"));
    }

    private static String modelName(GgufMetadata metadata) {
        return metadata.contains("general.name") ? metadata.getString("general.name") : "model";
    }

    /** The text of the token whose id is stored under idKey, or null if there is none. */
    private static String tokenText(GgufMetadata metadata, String idKey) {
        if (!metadata.contains(idKey) || !metadata.contains("tokenizer.ggml.tokens")) return null;
        long id = metadata.getLong(idKey);
        String[] tokens = metadata.getStrings("tokenizer.ggml.tokens");
        return id >= 0 && id < tokens.length ? tokens[(int) id] : null;
    }

    /** A copy whose bos_token / eos_token variables are these texts (null leaves one undefined). */
    public ChatTemplate withSpecialTokens(String bosToken, String eosToken) {
        return new ChatTemplate(name, source, normalizedSource, body, bosToken, eosToken, clock);
    }

    /** A copy whose strftime_now reads this clock (its zone gives the local date), for tests. */
    public ChatTemplate withClock(Clock clock) {
        return new ChatTemplate(name, source, normalizedSource, body, bosToken, eosToken, Objects.requireNonNull(clock));
    }

    public String name() {
        return name;
    }

    public String source() {
        return source;
    }

    public String bosToken() {
        return bosToken;
    }

    public String eosToken() {
        return eosToken;
    }

    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return render(messages, addGenerationPrompt, Map.of());
    }

    /**
     * Renders a conversation.
     *
     * @param extraContext more template variables (strings, numbers, booleans, null, lists and
     *     maps of those); {@code tools} is the usual one
     * @throws ChatTemplateException of kind RAISED when the template rejects the conversation
     *     (its {@link ChatTemplateException#detail()} is the template's message), or RENDER
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt, Map<String, ?> extraContext) {
        if (extraContext.containsKey("messages") || extraContext.containsKey("add_generation_prompt")) {
            throw new IllegalArgumentException("pass messages and add_generation_prompt as arguments, not as extra context");
        }
        Map<String, Object> context = new LinkedHashMap<>();
        List<Object> list = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) list.add(PyOps.fromJava(m.fields()));
        context.put("messages", list);
        context.put("add_generation_prompt", addGenerationPrompt);
        context.put("tools", null);
        context.put("documents", null);
        if (bosToken != null) context.put("bos_token", bosToken);
        if (eosToken != null) context.put("eos_token", eosToken);
        extraContext.forEach((k, v) -> context.put(k, PyOps.fromJava(v)));
        try {
            return JinjaRenderer.render(body, JinjaGlobals.create(clock), context);
        } catch (JinjaError e) {
            throw exception(name, normalizedSource, e);
        } catch (StackOverflowError e) {
            throw new ChatTemplateException(name, ChatTemplateException.Kind.RENDER, "template nesting too deep", 0, 0);
        }
    }

    private static ChatTemplateException exception(String name, String normalizedSource, JinjaError e) {
        int line = 0, column = 0;
        if (e.position >= 0) {
            int[] lc = JinjaLexer.lineColumn(normalizedSource, e.position);
            line = lc[0];
            column = lc[1];
        }
        return new ChatTemplateException(name, e.kind, e.getMessage(), line, column);
    }

    @Override
    public String toString() {
        return "ChatTemplate[" + name + "]";
    }
}
