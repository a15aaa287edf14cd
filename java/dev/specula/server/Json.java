package dev.specula.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

/** The server's one Jackson mapper, and reading a request body into a tree. */
final class Json {
    /** Deepest nesting a request may have: far more than any API shape, little enough for the stack. */
    static final int MAX_NESTING = 64;

    static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    static {
        MAPPER.getFactory().setStreamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_NESTING).build());
    }

    private Json() {}

    /** The body as a JSON object, or a 400 naming what is wrong with it. */
    static JsonNode parseObject(byte[] body) {
        JsonNode node;
        try {
            node = MAPPER.readTree(body);
        } catch (JsonProcessingException e) {
            throw ApiError.badRequest("the request body is not valid JSON: " + e.getOriginalMessage());
        } catch (java.io.IOException e) {
            throw ApiError.badRequest("the request body cannot be read: " + e.getMessage());
        }
        if (node == null || node.isMissingNode()) throw ApiError.badRequest("the request body is empty; expected a JSON object");
        if (!node.isObject()) throw ApiError.badRequest("the request body must be a JSON object, got " + node.getNodeType().name().toLowerCase(java.util.Locale.ROOT));
        return node;
    }

    static String write(JsonNode node) {
        try {
            return MAPPER.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write JSON", e);
        }
    }
}
