package dev.specula.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.specula.sampling.SamplingParams;
import dev.specula.tokenizer.Tokenizer;
import dev.specula.tokenizer.chat.ChatMessage;
import dev.specula.tokenizer.chat.ChatTemplate;
import dev.specula.tokenizer.chat.ChatTemplateException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Turns a request body into a {@link CompletionRequest}, with llama.cpp's field names for
 * /completion and OpenAI's for /v1 (each also takes the other's sampling fields, as llama.cpp
 * does). Unknown fields are ignored; a known field of the wrong type or out of range, a missing
 * prompt and a prompt that does not fit a slot's context are a 400 naming the field.
 */
final class RequestParser {
    /** Most stop sequences one request may give. */
    static final int MAX_STOPS = 16;
    /** Most most-likely tokens reported per generated token. */
    static final int MAX_PROBS = 20;

    private final Tokenizer tokenizer;
    private final ChatTemplate template;
    private final int slotContext;
    private final boolean speculative;

    RequestParser(Tokenizer tokenizer, ChatTemplate template, int slotContext, boolean speculative) {
        this.tokenizer = tokenizer;
        this.template = template;
        this.slotContext = slotContext;
        this.speculative = speculative;
    }

    CompletionRequest parse(Endpoint endpoint, JsonNode body) {
        int[] prompt = endpoint == Endpoint.OPENAI_CHAT ? chatPrompt(body) : textPrompt(body);
        if (prompt.length == 0) throw ApiError.badRequest("'prompt' has no tokens");
        if (prompt.length >= slotContext) {
            throw ApiError.badRequest("the prompt has " + prompt.length + " tokens but a slot's context holds " + slotContext
                    + " (the server's -c divided by -np)");
        }
        int nPredict;
        if (endpoint == Endpoint.LLAMA_COMPLETION) {
            nPredict = integer(body, "n_predict", -1);
            if (nPredict < -1) throw ApiError.badRequest("'n_predict' must be -1 (no limit) or more, got " + nPredict);
        } else {
            String field = body.has("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
            nPredict = integer(body, field, -1);
            if (body.hasNonNull(field) && nPredict < 0) throw ApiError.badRequest("'" + field + "' must be at least 0, got " + nPredict);
            if (!body.hasNonNull(field)) nPredict = integer(body, "n_predict", -1);
            if (nPredict < -1) throw ApiError.badRequest("'n_predict' must be -1 (no limit) or more, got " + nPredict);
        }
        int n = integer(body, "n", 1);
        if (n != 1) throw ApiError.badRequest("'n' must be 1: one choice per request (send more requests for more)");
        int nProbs = switch (endpoint) {
            case LLAMA_COMPLETION -> integer(body, "n_probs", 0);
            case OPENAI_COMPLETION -> integer(body, "logprobs", 0);
            case OPENAI_CHAT -> bool(body, "logprobs", false) ? Math.max(1, integer(body, "top_logprobs", 0)) : 0;
        };
        if (nProbs < 0 || nProbs > MAX_PROBS) throw ApiError.badRequest("the number of most likely tokens to report must be in [0, " + MAX_PROBS + "], got " + nProbs);
        if (nProbs > 0 && speculative) {
            throw ApiError.badRequest("token probabilities are not reported while the server decodes speculatively (-md/--lookup)");
        }
        boolean includeUsage = false;
        JsonNode streamOptions = body.get("stream_options");
        if (streamOptions != null && !streamOptions.isNull()) {
            if (!streamOptions.isObject()) throw ApiError.badRequest("'stream_options' must be an object");
            includeUsage = bool(streamOptions, "include_usage", false);
        }
        boolean ignoreEos = bool(body, "ignore_eos", false);
        if (ignoreEos && speculative) throw ApiError.badRequest("'ignore_eos' is not supported while the server decodes speculatively (-md/--lookup)");
        return new CompletionRequest(endpoint, prompt, nPredict, sampling(body), stops(body), bool(body, "stream", false), nProbs, includeUsage,
                ignoreEos);
    }

    private int[] textPrompt(JsonNode body) {
        JsonNode p = body.get("prompt");
        if (p == null || p.isNull()) throw ApiError.badRequest("'prompt' is missing");
        if (p.isArray() && p.size() == 1 && p.get(0).isTextual()) p = p.get(0);
        if (p.isTextual()) return tokenizer.encode(p.asText(), true, true);
        if (p.isArray()) {
            int[] ids = new int[p.size()];
            for (int i = 0; i < ids.length; i++) {
                JsonNode t = p.get(i);
                if (!t.isIntegralNumber() || !t.canConvertToInt() || t.intValue() < 0 || t.intValue() >= tokenizer.vocabulary().size()) {
                    throw ApiError.badRequest("'prompt' must be a string or an array of token ids below " + tokenizer.vocabulary().size()
                            + "; element " + i + " is " + t);
                }
                ids[i] = t.intValue();
            }
            return ids;
        }
        throw ApiError.badRequest("'prompt' must be a string or an array of token ids, got " + kind(p));
    }

    private int[] chatPrompt(JsonNode body) {
        JsonNode ms = body.get("messages");
        if (ms == null || ms.isNull()) throw ApiError.badRequest("'messages' is missing");
        if (!ms.isArray() || ms.isEmpty()) throw ApiError.badRequest("'messages' must be a non-empty array of {role, content} objects");
        List<ChatMessage> messages = new ArrayList<>(ms.size());
        for (int i = 0; i < ms.size(); i++) {
            JsonNode m = ms.get(i);
            if (!m.isObject()) throw ApiError.badRequest("messages[" + i + "] must be an object, got " + kind(m));
            if (!m.path("role").isTextual() || m.get("role").asText().isEmpty()) throw ApiError.badRequest("messages[" + i + "].role must be a non-empty string");
            JsonNode content = m.get("content");
            if (content != null && !content.isNull() && !content.isTextual() && !content.isArray()) {
                throw ApiError.badRequest("messages[" + i + "].content must be a string, an array of parts or null, got " + kind(content));
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> fields = Json.MAPPER.convertValue(m, Map.class);
            messages.add(ChatMessage.fromMap(fields));
        }
        String rendered;
        try {
            rendered = template.render(messages, true);
        } catch (ChatTemplateException e) {
            throw ApiError.badRequest("the chat template rejects these messages: " + e.getMessage());
        }
        return tokenizer.encode(rendered, false, true);
    }

    private static SamplingParams sampling(JsonNode body) {
        long seed = body.hasNonNull("seed") ? longValue(body, "seed") : -1;
        try {
            return new SamplingParams(number(body, "temperature", SamplingParams.DEFAULT_TEMPERATURE),
                    integer(body, "top_k", SamplingParams.DEFAULT_TOP_K),
                    number(body, "top_p", SamplingParams.DEFAULT_TOP_P),
                    number(body, "min_p", SamplingParams.DEFAULT_MIN_P),
                    number(body, "repeat_penalty", SamplingParams.DEFAULT_REPEAT_PENALTY),
                    integer(body, "repeat_last_n", SamplingParams.DEFAULT_REPEAT_LAST_N),
                    number(body, "frequency_penalty", 0f),
                    number(body, "presence_penalty", 0f),
                    seed < 0 ? SamplingParams.RANDOM_SEED : seed);
        } catch (IllegalArgumentException e) {
            throw ApiError.badRequest(e.getMessage());
        }
    }

    private static List<String> stops(JsonNode body) {
        JsonNode s = body.get("stop");
        if (s == null || s.isNull()) return List.of();
        if (s.isTextual()) return s.asText().isEmpty() ? List.of() : List.of(s.asText());
        if (!s.isArray()) throw ApiError.badRequest("'stop' must be a string or an array of strings, got " + kind(s));
        if (s.size() > MAX_STOPS) throw ApiError.badRequest("'stop' has " + s.size() + " sequences; at most " + MAX_STOPS);
        List<String> out = new ArrayList<>();
        for (int i = 0; i < s.size(); i++) {
            if (!s.get(i).isTextual()) throw ApiError.badRequest("'stop' must hold strings; element " + i + " is " + kind(s.get(i)));
            if (!s.get(i).asText().isEmpty()) out.add(s.get(i).asText());
        }
        return List.copyOf(out);
    }

    static int integer(JsonNode body, String field, int fallback) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) return fallback;
        if (!v.isIntegralNumber() || !v.canConvertToInt()) throw ApiError.badRequest("'" + field + "' must be an integer, got " + kind(v));
        return v.intValue();
    }

    private static long longValue(JsonNode body, String field) {
        JsonNode v = body.get(field);
        if (!v.isIntegralNumber() || !v.canConvertToLong()) throw ApiError.badRequest("'" + field + "' must be an integer, got " + kind(v));
        return v.longValue();
    }

    static float number(JsonNode body, String field, float fallback) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) return fallback;
        if (!v.isNumber()) throw ApiError.badRequest("'" + field + "' must be a number, got " + kind(v));
        float f = v.floatValue();
        if (!Float.isFinite(f)) throw ApiError.badRequest("'" + field + "' must be a finite number, got " + v);
        return f;
    }

    static boolean bool(JsonNode body, String field, boolean fallback) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) return fallback;
        if (!v.isBoolean()) throw ApiError.badRequest("'" + field + "' must be true or false, got " + kind(v));
        return v.booleanValue();
    }

    /** A JSON value's kind and, when short, the value itself: what an error message shows. */
    static String kind(JsonNode v) {
        String type = v.getNodeType().name().toLowerCase(Locale.ROOT);
        String text = v.toString();
        return text.length() <= 40 ? type + " " + text : type;
    }
}
