package dev.specula.server;

/** The three generation APIs: they share one decoding path and differ in request fields and response shapes. */
enum Endpoint {
    /** llama.cpp's POST /completion. */
    LLAMA_COMPLETION,
    /** OpenAI's POST /v1/completions. */
    OPENAI_COMPLETION,
    /** OpenAI's POST /v1/chat/completions. */
    OPENAI_CHAT
}
