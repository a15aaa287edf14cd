package dev.specula.sampling;

/**
 * The sampler's final distribution: the candidate tokens that survived the chain, most likely
 * first, with probabilities summing to 1. Every other token has probability 0. Speculative
 * decoding reads p (target) and q (draft) from here.
 */
public record TokenDistribution(int[] tokens, float[] probs) {

    public int size() {
        return tokens.length;
    }

    /** Probability of {@code token} (0 when the chain removed it). */
    public float probability(int token) {
        for (int i = 0; i < tokens.length; i++) if (tokens[i] == token) return probs[i];
        return 0f;
    }

    public int mostLikely() {
        return tokens[0];
    }

    /** Draws a token with u uniform in [0, 1). */
    public int draw(double u) {
        double acc = 0;
        for (int i = 0; i < tokens.length; i++) {
            acc += probs[i];
            if (u < acc) return tokens[i];
        }
        return tokens[tokens.length - 1]; // rounding left u just above the sum
    }
}
