package dev.specula.server;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A request that cannot be served, as the client sees it: an HTTP status and an OpenAI-style
 * error object {@code {"error": {"message", "type", "code"}}}.
 */
public final class ApiError extends RuntimeException {
    private final int status;
    private final String type;

    public ApiError(int status, String type, String message) {
        super(message, null, false, false);
        this.status = status;
        this.type = type;
    }

    /** 400: the request itself is wrong (bad JSON, a field of the wrong type or out of range, a prompt too long). */
    public static ApiError badRequest(String message) {
        return new ApiError(400, "invalid_request_error", message);
    }

    /** 503: every slot is busy and the queue is full. */
    public static ApiError unavailable(String message) {
        return new ApiError(503, "unavailable_error", message);
    }

    /** 500: the server failed on this request (the others go on). */
    public static ApiError internal(String message) {
        return new ApiError(500, "server_error", message);
    }

    public int status() {
        return status;
    }

    public String type() {
        return type;
    }

    public ObjectNode toJson() {
        ObjectNode root = Json.MAPPER.createObjectNode();
        ObjectNode e = root.putObject("error");
        e.put("message", getMessage());
        e.put("type", type);
        e.put("code", status);
        return root;
    }
}
