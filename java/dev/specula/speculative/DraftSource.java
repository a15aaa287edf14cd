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

    /** Frees what the source holds (threads of a draft model). */
    default void close() {}

    /** A short name for statistics ("draft model", "lookup"). */
    String describe();
}
