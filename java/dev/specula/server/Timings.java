package dev.specula.server;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * llama.cpp's per-request timings: prompt tokens evaluated (those the slot's cache did not
 * already hold) and the time from the request's first step to its first token, then tokens
 * generated and the time from the first token to the last, and the speculative counts.
 */
record Timings(int promptN, double promptMs, int predictedN, double predictedMs, long draftN, long draftAccepted) {
    ObjectNode toJson() {
        ObjectNode t = Json.MAPPER.createObjectNode();
        t.put("prompt_n", promptN);
        t.put("prompt_ms", promptMs);
        t.put("prompt_per_token_ms", promptN == 0 ? 0 : promptMs / promptN);
        t.put("prompt_per_second", promptMs == 0 ? 0 : promptN * 1e3 / promptMs);
        t.put("predicted_n", predictedN);
        t.put("predicted_ms", predictedMs);
        t.put("predicted_per_token_ms", predictedN == 0 ? 0 : predictedMs / predictedN);
        t.put("predicted_per_second", predictedMs == 0 ? 0 : predictedN * 1e3 / predictedMs);
        t.put("draft_n", draftN);
        t.put("draft_n_accepted", draftAccepted);
        return t;
    }
}
