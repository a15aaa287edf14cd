package dev.specula.server;

import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * A request in flight between the HTTP thread that answers it and the decoding thread that
 * serves it: the decoder puts events in, the HTTP thread takes them out and writes them, so a
 * slow client never holds up the other slots. Setting {@link #cancel} (the client went away)
 * frees the slot before the next step.
 */
final class Job {
    /** A token at one position: its id, text, bytes (a byte token may be part of a character) and log-probability. */
    record Candidate(int id, String text, byte[] bytes, double logprob) {}

    /** The token that was generated and the most likely ones at its position (n_probs). */
    record TokenProbs(Candidate chosen, List<Candidate> top) {}

    sealed interface Event permits Piece, Done, Failed {}

    /** Text that is final (stop sequences checked), the tokens generated since the last piece, their probabilities. */
    record Piece(String text, int[] tokens, List<TokenProbs> probs) implements Event {}

    /**
     * The end: why generation stopped ("eos", "word": a stop sequence, "limit": n_predict or the
     * context), the stop sequence, tokens in the prompt, whether prompt and output filled the
     * slot's context, and the timings.
     */
    record Done(String stopType, String stoppingWord, int promptTokens, int cachedTokens, int slot, boolean contextFull,
                Timings timings) implements Event {
        /** llama.cpp's "truncated": the context ran out (not n_predict), so the text was cut short. */
        boolean truncated() {
            return stopType.equals("limit") && contextFull;
        }
    }

    record Failed(ApiError error) implements Event {}

    final CompletionRequest request;
    final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
    private volatile boolean cancelled;
    /** The slot serving it, once it has one (-1 while queued). */
    volatile int slot = -1;

    Job(CompletionRequest request) {
        this.request = request;
    }

    void cancel() {
        cancelled = true;
    }

    boolean cancelled() {
        return cancelled;
    }
}
