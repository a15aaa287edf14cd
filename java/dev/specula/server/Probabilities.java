package dev.specula.server;

import dev.specula.tokenizer.Tokenizer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** n_probs: the most likely tokens at a position, from the softmax of the model's logits (before sampling). */
final class Probabilities {
    private Probabilities() {}

    static Job.TokenProbs of(Tokenizer tok, float[] logits, int chosen, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (float v : logits) max = Math.max(max, v);
        double sum = 0;
        for (float v : logits) sum += Math.exp(v - max);
        double logSum = Math.log(sum) + max;
        int[] best = new int[Math.min(n, logits.length)];
        int size = 0;
        for (int i = 0; i < logits.length; i++) {
            if (size == best.length && logits[i] <= logits[best[size - 1]]) continue;
            int pos = size < best.length ? size++ : size - 1;
            while (pos > 0 && logits[best[pos - 1]] < logits[i]) {
                best[pos] = best[pos - 1];
                pos--;
            }
            best[pos] = i;
        }
        List<Job.Candidate> top = new ArrayList<>(size);
        for (int i = 0; i < size; i++) top.add(candidate(tok, best[i], logits[best[i]] - logSum));
        return new Job.TokenProbs(candidate(tok, chosen, logits[chosen] - logSum), List.copyOf(top));
    }

    private static Job.Candidate candidate(Tokenizer tok, int id, double logprob) {
        byte[] bytes = tok.tokenBytes(id);
        return new Job.Candidate(id, new String(bytes, StandardCharsets.UTF_8), bytes, logprob);
    }
}
