package dev.specula.speculative;

/**
 * Prompt-lookup decoding ({@code --lookup N}): find the most recent earlier occurrence of the
 * last n tokens (n from N down to 1) in the prompt and output so far, and propose what followed
 * it. Free to compute and often right when the output copies its input: code edits, summaries,
 * extraction, repetitive text.
 */
public final class PromptLookup implements DraftSource {
    private final int ngram;

    public PromptLookup(int ngram) {
        if (ngram < 1) throw new IllegalArgumentException("--lookup needs an n-gram size of at least 1, got " + ngram);
        this.ngram = ngram;
    }

    @Override
    public Draft propose(int[] history, int length, int max) {
        if (max <= 0) return Draft.EMPTY;
        for (int n = Math.min(ngram, length - 1); n >= 1; n--) {
            int tail = length - n;
            // Latest match first: recent context predicts best.
            for (int start = tail - 1; start >= 0; start--) {
                if (matches(history, start, tail, n)) {
                    int from = start + n, count = Math.min(max, length - from);
                    if (count <= 0) continue;
                    int[] tokens = new int[count];
                    System.arraycopy(history, from, tokens, 0, count);
                    return new Draft(tokens, null);
                }
            }
        }
        return Draft.EMPTY;
    }

    private static boolean matches(int[] h, int a, int b, int n) {
        for (int i = 0; i < n; i++) if (h[a + i] != h[b + i]) return false;
        return true;
    }

    @Override
    public String describe() {
        return "lookup (n-gram " + ngram + ")";
    }
}
