package dev.specula.speculative;

import dev.specula.sampling.TokenDistribution;

/**
 * Proposed tokens and, for each, the distribution it was drawn from ({@code q}), which rejection
 * sampling needs at temperature > 0. A null {@code q} (or null entry) means the token was chosen
 * deterministically: q puts all its mass on it.
 */
public record Draft(int[] tokens, TokenDistribution[] q) {
    public static final Draft EMPTY = new Draft(new int[0], null);

    public int size() {
        return tokens.length;
    }

    /** q(token) of the i-th proposal. */
    public float q(int i, int token) {
        if (q == null || q[i] == null) return token == tokens[i] ? 1f : 0f;
        return q[i].probability(token);
    }
}
