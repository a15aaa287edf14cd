package dev.specula.server;

import dev.specula.engine.KvCache;
import dev.specula.sampling.Sampler;
import dev.specula.speculative.SpeculativeDecoder;
import dev.specula.tokenizer.StreamingDecoder;
import dev.specula.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One sequence the server decodes: its KV cache, the tokens the cache holds (kept between
 * requests, so a request sharing a prefix with the slot's last one evaluates only the rest), and
 * the request it serves. It turns sampled tokens into text, holds back text that may be the start
 * of a stop sequence, and reports pieces and the end to the request's {@link Job}.
 */
final class Slot {
    final int index;
    final KvCache cache;
    private final Tokenizer tokenizer;
    /** The tokens the cache holds, held[0, heldLength) == the cache's positions. */
    private int[] held = new int[64];
    private int heldLength;

    Job job;
    /** When the slot last took a request (the scheduler's admission count). */
    long lastUsed;
    Sampler sampler;
    /** The speculative decoder of this request, or null when the slot decodes plainly. */
    SpeculativeDecoder speculative;
    /** Prompt tokens still to evaluate: prompt[next, prompt.length). */
    private int[] prompt;
    private int next;
    private int cachedTokens;
    /** The sampled token to feed next, or -1. */
    int pendingToken = -1;
    private int generated;
    private StreamingDecoder decoder;
    private final StringBuilder text = new StringBuilder();
    private int sent;
    private int[] newTokens = new int[8];
    private int newTokenCount;
    private List<Job.TokenProbs> newProbs;
    private long startNanos, firstTokenNanos;
    private boolean finished;

    Slot(int index, KvCache cache, Tokenizer tokenizer) {
        this.index = index;
        this.cache = cache;
        this.tokenizer = tokenizer;
    }

    boolean free() {
        return job == null;
    }

    /** How many leading tokens of {@code tokens} the cache already holds (at most all but the last, whose logits are needed). */
    int reusable(int[] tokens) {
        int keep = 0;
        while (keep < heldLength && keep < tokens.length - 1 && held[keep] == tokens[keep]) keep++;
        return keep;
    }

    /** Takes a request: keeps the shared prefix of the cache, queues the rest of the prompt. */
    void start(Job j, Sampler s, SpeculativeDecoder spec) {
        job = j;
        j.slot = index;
        sampler = s;
        speculative = spec;
        prompt = j.request.prompt();
        for (int id : prompt) sampler.accept(id);
        cachedTokens = spec == null ? reusable(prompt) : 0;
        truncate(cachedTokens);
        next = cachedTokens;
        pendingToken = -1;
        generated = 0;
        decoder = tokenizer.continuationDecoder(false);
        text.setLength(0);
        sent = 0;
        newTokenCount = 0;
        newProbs = j.request.nProbs() > 0 ? new ArrayList<>() : null;
        startNanos = System.nanoTime();
        firstTokenNanos = 0;
        finished = false;
    }

    boolean prefilling() {
        return next < prompt.length;
    }

    /** The next prompt chunk of at most {@code max} tokens (marked as evaluated). */
    int[] takePrompt(int max) {
        int n = Math.min(max, prompt.length - next);
        int[] chunk = Arrays.copyOfRange(prompt, next, next + n);
        next += n;
        return chunk;
    }

    /** Records that {@code tokens} went into the cache. */
    void fed(int[] tokens) {
        if (heldLength + tokens.length > held.length) held = Arrays.copyOf(held, Math.max(held.length * 2, heldLength + tokens.length));
        System.arraycopy(tokens, 0, held, heldLength, tokens.length);
        heldLength += tokens.length;
    }

    /** Forgets held tokens past {@code length} (also after a failed step, to match the cache). */
    void truncate(int length) {
        cache.truncate(Math.min(length, cache.length()));
        heldLength = Math.min(cache.length(), heldLength);
    }

    /** The prompt was evaluated by the speculative decoder, all of it. */
    void promptDone() {
        next = prompt.length;
    }

    /** Whether the request's token budget still allows a token. */
    boolean wantsToken() {
        int n = job.request.nPredict();
        return n < 0 || generated < n;
    }

    /** Tokens the budget still allows (-1: no limit). */
    int budget() {
        int n = job.request.nPredict();
        return n < 0 ? -1 : n - generated;
    }

    /**
     * One generated token; {@code logitsOfIt} are the logits it was sampled from (for n_probs),
     * or null. Returns whether the request is finished.
     */
    boolean accept(int token, float[] logitsOfIt) {
        if (finished) return true; // a speculative round may run past a stop sequence: drop the rest
        if (firstTokenNanos == 0) firstTokenNanos = System.nanoTime();
        generated++;
        if (tokenizer.vocabulary().isEndOfGeneration(token)) return finish("eos", null);
        if (newTokenCount == newTokens.length) newTokens = Arrays.copyOf(newTokens, newTokenCount * 2);
        newTokens[newTokenCount++] = token;
        if (newProbs != null && logitsOfIt != null) newProbs.add(Probabilities.of(tokenizer, logitsOfIt, token, job.request.nProbs()));
        text.append(decoder.accept(token));
        String stop = findStop();
        if (stop != null) return finish("word", stop);
        if (!wantsToken()) return finish("limit", null);
        emit(text.length() - heldBack());
        return false;
    }

    /** Ends the request as it stands; the remaining text goes out first. */
    boolean finish(String stopType, String word) {
        if (finished) return true;
        finished = true;
        if (word == null) {
            text.append(decoder.flush());
            emit(text.length());
        }
        long now = System.nanoTime();
        long first = firstTokenNanos == 0 ? now : firstTokenNanos;
        long draftN = speculative == null ? 0 : speculative.draftN, accepted = speculative == null ? 0 : speculative.draftAccepted;
        int evaluated = speculative == null ? prompt.length - cachedTokens : (int) speculative.promptTokens() + 1;
        Timings t = new Timings(evaluated, (first - startNanos) / 1e6, generated, (now - first) / 1e6, draftN, accepted);
        job.events.add(new Job.Done(stopType, word, prompt.length, cachedTokens, index, prompt.length + generated >= cache.capacity(), t));
        return true;
    }

    /** Marks the slot free (after finish, a failure or a cancellation); the cache keeps what it holds. */
    void release() {
        if (speculative != null) {
            // The speculative decoder kept its own record of the cache; start afresh next time.
            speculative = null;
            truncate(0);
        }
        job = null;
        sampler = null;
        newProbs = null;
    }

    boolean finished() {
        return finished;
    }

    int generated() {
        return generated;
    }

    int heldLength() {
        return heldLength;
    }

    /** The earliest stop sequence in the text, cutting the text there; null if none. */
    private String findStop() {
        List<String> stops = job.request.stops();
        if (stops.isEmpty()) return null;
        int best = -1;
        String found = null;
        for (String s : stops) {
            int at = text.indexOf(s, Math.max(0, sent - s.length() + 1));
            if (at >= 0 && (best < 0 || at < best)) {
                best = at;
                found = s;
            }
        }
        if (found == null) return null;
        text.setLength(best);
        emit(best);
        return found;
    }

    /** Characters at the end of the text that could still begin a stop sequence. */
    private int heldBack() {
        int longest = 0;
        for (String s : job.request.stops()) {
            for (int n = Math.min(s.length() - 1, text.length() - sent); n > longest; n--) {
                if (CharSequence.compare(text.subSequence(text.length() - n, text.length()), s.subSequence(0, n)) == 0) {
                    longest = n;
                    break;
                }
            }
        }
        return longest;
    }

    /** Sends text[sent, upTo) and the tokens since the last piece. */
    private void emit(int upTo) {
        if (upTo <= sent && newTokenCount == 0) return;
        String piece = upTo > sent ? text.substring(sent, upTo) : "";
        sent = Math.max(sent, upTo);
        List<Job.TokenProbs> probs = newProbs == null ? List.of() : List.copyOf(newProbs);
        if (newProbs != null) newProbs.clear();
        job.events.add(new Job.Piece(piece, Arrays.copyOf(newTokens, newTokenCount), probs));
        newTokenCount = 0;
    }
}
