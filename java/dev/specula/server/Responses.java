package dev.specula.server;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * The JSON each endpoint answers with, whole or as stream chunks: llama.cpp's /completion
 * shape, OpenAI's text_completion and chat.completion (and their chunks). One instance per
 * request (it carries the request's id and creation time).
 */
final class Responses {
    private final Endpoint endpoint;
    private final String id;
    private final long created = System.currentTimeMillis() / 1000;
    private final String model;

    Responses(Endpoint endpoint, String model) {
        this.endpoint = endpoint;
        this.model = model;
        this.id = (endpoint == Endpoint.OPENAI_CHAT ? "chatcmpl-" : "cmpl-") + java.util.UUID.randomUUID().toString().replace("-", "");
    }

    /** The first chunk of a chat stream (the assistant's role), or null for the other endpoints. */
    ObjectNode streamStart() {
        if (endpoint != Endpoint.OPENAI_CHAT) return null;
        ObjectNode chunk = openAi("chat.completion.chunk");
        ObjectNode choice = chunk.putArray("choices").addObject();
        choice.put("index", 0);
        choice.putObject("delta").put("role", "assistant").put("content", "");
        choice.putNull("logprobs");
        choice.putNull("finish_reason");
        return chunk;
    }

    /** One piece of a stream; null when there is nothing to send. */
    ObjectNode streamPiece(Job.Piece p, int slot) {
        if (p.text().isEmpty() && (endpoint != Endpoint.LLAMA_COMPLETION || p.tokens().length == 0)) return null;
        return switch (endpoint) {
            case LLAMA_COMPLETION -> {
                ObjectNode o = Json.MAPPER.createObjectNode();
                o.put("content", p.text());
                ArrayNode tokens = o.putArray("tokens");
                for (int t : p.tokens()) tokens.add(t);
                o.put("stop", false);
                o.put("id_slot", slot);
                o.put("index", 0);
                if (!p.probs().isEmpty()) o.set("completion_probabilities", probabilities(p.probs()));
                yield o;
            }
            case OPENAI_COMPLETION -> {
                ObjectNode chunk = openAi("text_completion");
                ObjectNode choice = chunk.putArray("choices").addObject();
                choice.put("index", 0);
                choice.put("text", p.text());
                if (p.probs().isEmpty()) choice.putNull("logprobs");
                else choice.set("logprobs", legacyLogprobs(p.probs()));
                choice.putNull("finish_reason");
                yield chunk;
            }
            case OPENAI_CHAT -> {
                ObjectNode chunk = openAi("chat.completion.chunk");
                ObjectNode choice = chunk.putArray("choices").addObject();
                choice.put("index", 0);
                choice.putObject("delta").put("content", p.text());
                if (p.probs().isEmpty()) choice.putNull("logprobs");
                else choice.putObject("logprobs").set("content", probabilities(p.probs()));
                choice.putNull("finish_reason");
                yield chunk;
            }
        };
    }

    /** The last chunk of a stream: why it stopped, and the timings (llama.cpp adds them to OpenAI chunks too). */
    ObjectNode streamEnd(Job.Done d, int completionTokens) {
        return switch (endpoint) {
            case LLAMA_COMPLETION -> llamaFinal("", List.of(), List.of(), d, completionTokens);
            case OPENAI_COMPLETION, OPENAI_CHAT -> {
                ObjectNode chunk = openAi(endpoint == Endpoint.OPENAI_CHAT ? "chat.completion.chunk" : "text_completion");
                ObjectNode choice = chunk.putArray("choices").addObject();
                choice.put("index", 0);
                if (endpoint == Endpoint.OPENAI_CHAT) choice.putObject("delta");
                else choice.put("text", "");
                choice.putNull("logprobs");
                choice.put("finish_reason", finishReason(d));
                chunk.set("timings", d.timings().toJson());
                yield chunk;
            }
        };
    }

    /** OpenAI's usage chunk (stream_options.include_usage): no choices, the counts. */
    ObjectNode streamUsage(Job.Done d, int completionTokens) {
        ObjectNode chunk = openAi(endpoint == Endpoint.OPENAI_CHAT ? "chat.completion.chunk" : "text_completion");
        chunk.putArray("choices");
        chunk.set("usage", usage(d, completionTokens));
        return chunk;
    }

    /** The whole answer of a request that did not stream. */
    ObjectNode complete(String content, List<Integer> tokens, List<Job.TokenProbs> probs, Job.Done d) {
        return switch (endpoint) {
            case LLAMA_COMPLETION -> llamaFinal(content, tokens, probs, d, tokens.size());
            case OPENAI_COMPLETION, OPENAI_CHAT -> {
                boolean chat = endpoint == Endpoint.OPENAI_CHAT;
                ObjectNode o = openAi(chat ? "chat.completion" : "text_completion");
                ObjectNode choice = o.putArray("choices").addObject();
                choice.put("index", 0);
                if (chat) choice.putObject("message").put("role", "assistant").put("content", content);
                else choice.put("text", content);
                if (probs.isEmpty()) choice.putNull("logprobs");
                else if (chat) choice.putObject("logprobs").set("content", probabilities(probs));
                else choice.set("logprobs", legacyLogprobs(probs));
                choice.put("finish_reason", finishReason(d));
                o.set("usage", usage(d, tokens.size()));
                o.set("timings", d.timings().toJson());
                yield o;
            }
        };
    }

    private ObjectNode llamaFinal(String content, List<Integer> tokens, List<Job.TokenProbs> probs, Job.Done d, int predicted) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("content", content);
        ArrayNode ids = o.putArray("tokens");
        tokens.forEach(ids::add);
        o.put("id_slot", d.slot());
        o.put("index", 0);
        o.put("stop", true);
        o.put("model", model);
        o.put("tokens_predicted", predicted);
        o.put("tokens_evaluated", d.promptTokens());
        o.put("tokens_cached", d.cachedTokens());
        o.put("truncated", d.truncated());
        o.put("stopped_eos", d.stopType().equals("eos"));
        o.put("stopped_word", d.stopType().equals("word"));
        o.put("stopped_limit", d.stopType().equals("limit"));
        o.put("stop_type", d.stopType());
        o.put("stopping_word", d.stoppingWord() == null ? "" : d.stoppingWord());
        if (!probs.isEmpty()) o.set("completion_probabilities", probabilities(probs));
        o.set("timings", d.timings().toJson());
        return o;
    }

    private ObjectNode openAi(String object) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("id", id);
        o.put("object", object);
        o.put("created", created);
        o.put("model", model);
        o.put("system_fingerprint", "specula");
        return o;
    }

    private static ObjectNode usage(Job.Done d, int completionTokens) {
        ObjectNode u = Json.MAPPER.createObjectNode();
        u.put("prompt_tokens", d.promptTokens());
        u.put("completion_tokens", completionTokens);
        u.put("total_tokens", d.promptTokens() + completionTokens);
        return u;
    }

    private static String finishReason(Job.Done d) {
        return d.stopType().equals("limit") ? "length" : "stop"; // OpenAI: max_tokens or the context
    }

    /** llama.cpp's (and OpenAI chat's) list: per token its id, text, log-probability, bytes and the most likely ones. */
    private static ArrayNode probabilities(List<Job.TokenProbs> probs) {
        ArrayNode a = Json.MAPPER.createArrayNode();
        for (Job.TokenProbs p : probs) {
            ObjectNode o = a.addObject();
            candidate(o, p.chosen());
            ArrayNode top = o.putArray("top_logprobs");
            for (Job.Candidate c : p.top()) candidate(top.addObject(), c);
        }
        return a;
    }

    private static void candidate(ObjectNode o, Job.Candidate c) {
        o.put("id", c.id());
        o.put("token", c.text());
        o.put("logprob", c.logprob());
        ArrayNode bytes = o.putArray("bytes");
        for (byte b : c.bytes()) bytes.add(b & 0xff);
    }

    /** OpenAI's legacy completions logprobs: parallel lists of tokens, their log-probabilities and the top ones. */
    private static ObjectNode legacyLogprobs(List<Job.TokenProbs> probs) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        ArrayNode tokens = o.putArray("tokens"), lps = o.putArray("token_logprobs"), top = o.putArray("top_logprobs");
        for (Job.TokenProbs p : probs) {
            tokens.add(p.chosen().text());
            lps.add(p.chosen().logprob());
            ObjectNode t = top.addObject();
            for (Job.Candidate c : p.top()) t.put(c.text(), c.logprob());
        }
        return o;
    }
}
