package dev.specula.speculative;

/**
 * Something that guesses how the target will continue a sequence: a small draft model, an n-gram
 * lookup in the text so far, or a draft model speaking another vocabulary through text.
 */
public interface DraftSource {
    /**
     * Proposes up to {@code max} tokens to follow {@code history[0, length)}. The proposal may be
     * shorter, or empty when the source has nothing good to offer.
     */
    Draft propose(int[] history, int length, int max);

    /**
     * Takes in a new prompt before generation starts (a draft model evaluates it, as the target
     * does), so that its cost counts as prompt processing rather than as generation.
     */
    default void prepare(int[] history, int length) {}

    /**
     * Average nanoseconds one more proposed token costs (a draft model's single-token step; 0 for
     * lookup; NaN while unmeasured), not counting catching up on new context: the adaptive
     * length's cost model.
     */
    default double stepNanos() {
        return 0;
    }

    /** Frees what the source holds (threads of a draft model). */
    default void close() {}

    /** A short name for statistics ("draft model", "lookup"). */
    String describe();
}
