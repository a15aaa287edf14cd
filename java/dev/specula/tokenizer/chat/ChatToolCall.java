package dev.specula.tokenizer.chat;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A function call an assistant message made, in the OpenAI / transformers shape templates read:
 * {@code {"id": ..., "type": "function", "function": {"name": ..., "arguments": ...}}}.
 * Arguments are usually a map (templates print them with tojson); a JSON string is kept as is.
 *
 * @param id the call id, or null when the conversation has none
 */
public record ChatToolCall(String id, String name, Object arguments) {
    public ChatToolCall {
        if (name == null || name.isEmpty()) throw new IllegalArgumentException("a tool call needs a function name");
    }

    public Map<String, Object> toMap() {
        Map<String, Object> function = new LinkedHashMap<>();
        function.put("name", name);
        function.put("arguments", arguments);
        Map<String, Object> call = new LinkedHashMap<>();
        if (id != null) call.put("id", id);
        call.put("type", "function");
        call.put("function", function);
        return call;
    }
}
