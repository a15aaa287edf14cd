package dev.specula.tokenizer.chat;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One message of a conversation, as a chat template sees it: a map with at least {@code role}
 * and usually {@code content}, like the dicts transformers' apply_chat_template takes. Other
 * keys are optional ({@code tool_calls}, {@code tool_call_id}, {@code reasoning_content},
 * {@code name}...): a key that is absent is undefined in the template, which is not the same
 * as a key set to null (None). Content is normally a string; it may be null (an assistant
 * message that only calls tools) or a list of parts ({@code {"type": "text", "text": ...}}).
 */
public record ChatMessage(Map<String, Object> fields) {
    public ChatMessage {
        if (!(fields.get("role") instanceof String role) || role.isEmpty()) {
            throw new IllegalArgumentException("a chat message needs a role, got " + fields.get("role"));
        }
        fields = Collections.unmodifiableMap(new LinkedHashMap<>(fields));
    }

    public static ChatMessage of(String role, Object content) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("role", role);
        m.put("content", content);
        return new ChatMessage(m);
    }

    public static ChatMessage system(String content) {
        return of("system", content);
    }

    public static ChatMessage user(String content) {
        return of("user", content);
    }

    public static ChatMessage assistant(String content) {
        return of("assistant", content);
    }

    /** A tool's result, answering the call with the given id. */
    public static ChatMessage tool(String toolCallId, String content) {
        return of("tool", content).with("tool_call_id", toolCallId);
    }

    @SuppressWarnings("unchecked")
    public static ChatMessage fromMap(Map<String, ?> fields) {
        return new ChatMessage((Map<String, Object>) fields);
    }

    public String role() {
        return (String) fields.get("role");
    }

    /** The content: a String, null, or a list of content parts. */
    public Object content() {
        return fields.get("content");
    }

    /** A copy with one more (or a replaced) field. */
    public ChatMessage with(String key, Object value) {
        Map<String, Object> m = new LinkedHashMap<>(fields);
        m.put(key, value);
        return new ChatMessage(m);
    }

    public ChatMessage withToolCalls(List<ChatToolCall> calls) {
        return with("tool_calls", calls.stream().map(ChatToolCall::toMap).toList());
    }

    public ChatMessage withReasoningContent(String reasoning) {
        return with("reasoning_content", reasoning);
    }
}
