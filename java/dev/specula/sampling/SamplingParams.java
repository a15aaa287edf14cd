package dev.specula.sampling;

/**
 * Settings of the sampler chain, with llama.cpp's defaults and meanings.
 *
 * @param temperature      0 (or below) is greedy: the most likely token after penalties
 * @param topK             keep the K most likely tokens; 0 or below disables
 * @param topP             keep the smallest set whose probability reaches P; 1 disables
 * @param minP             drop tokens less likely than minP times the most likely one; 0 disables
 * @param repeatPenalty    divides positive / multiplies negative logits of recent tokens; 1 disables
 * @param repeatLastN      how many recent tokens the penalties look at; 0 disables, -1 means all
 * @param frequencyPenalty subtracted once per occurrence of a recent token
 * @param presencePenalty  subtracted once if a token occurred recently
 * @param seed             seed of the random draw; the same seed and settings give the same tokens
 */
public record SamplingParams(float temperature, int topK, float topP, float minP, float repeatPenalty,
                             int repeatLastN, float frequencyPenalty, float presencePenalty, long seed) {

    public static final float DEFAULT_TEMPERATURE = 0.8f;
    public static final int DEFAULT_TOP_K = 40;
    public static final float DEFAULT_TOP_P = 0.95f;
    public static final float DEFAULT_MIN_P = 0.05f;
    public static final float DEFAULT_REPEAT_PENALTY = 1.0f;
    public static final int DEFAULT_REPEAT_LAST_N = 64;
    /** llama.cpp's LLAMA_DEFAULT_SEED: pick a random seed. */
    public static final long RANDOM_SEED = 0xFFFFFFFFL;

    public SamplingParams {
        if (topP <= 0 || topP > 1) throw new IllegalArgumentException("top-p must be in (0, 1], got " + topP);
        if (minP < 0 || minP > 1) throw new IllegalArgumentException("min-p must be in [0, 1], got " + minP);
        if (repeatPenalty <= 0) throw new IllegalArgumentException("repeat penalty must be > 0, got " + repeatPenalty);
        if (repeatLastN < -1) throw new IllegalArgumentException("repeat-last-n must be >= -1, got " + repeatLastN);
    }

    public static SamplingParams defaults() {
        return new SamplingParams(DEFAULT_TEMPERATURE, DEFAULT_TOP_K, DEFAULT_TOP_P, DEFAULT_MIN_P,
                DEFAULT_REPEAT_PENALTY, DEFAULT_REPEAT_LAST_N, 0f, 0f, RANDOM_SEED);
    }

    public static SamplingParams greedy() {
        return defaults().withTemperature(0f);
    }

    public SamplingParams withTemperature(float t) {
        return new SamplingParams(t, topK, topP, minP, repeatPenalty, repeatLastN, frequencyPenalty, presencePenalty, seed);
    }

    public SamplingParams withSeed(long s) {
        return new SamplingParams(temperature, topK, topP, minP, repeatPenalty, repeatLastN, frequencyPenalty, presencePenalty, s);
    }

    public boolean greedyDecoding() {
        return temperature <= 0;
    }

    boolean penalised() {
        return repeatLastN != 0 && (repeatPenalty != 1f || frequencyPenalty != 0f || presencePenalty != 0f);
    }
}
