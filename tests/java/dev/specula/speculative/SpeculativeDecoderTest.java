package dev.specula.speculative;

import static org.junit.jupiter.api.Assertions.*;

import dev.specula.TestFiles;
import dev.specula.engine.CpuTransformer;
import dev.specula.engine.Generator;
import dev.specula.engine.KvCache;
import dev.specula.gguf.GgufFile;
import dev.specula.model.ModelConfig;
import dev.specula.model.ModelWeights;
import dev.specula.sampling.Sampler;
import dev.specula.sampling.SamplingParams;
import dev.specula.tokenizer.Tokenizer;
import java.util.Arrays;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Speculative decoding against the target alone. At temperature 0 the text must be token for
 * token the target's greedy text, for every shared target with the shared draft model, with
 * prompt lookup, with the adaptive length and through the text bridge. At temperature > 0 the
 * first token's distribution must match the target's (chi-square), and the same test must catch
 * a broken acceptance rule (so it can fail).
 */
class SpeculativeDecoderTest {
    static final String DRAFT = "stories260K-draft-4layer-f32.gguf";
    static final String[] PROMPTS = {
        "Once upon a time", "Tom and Lily went to the park. Tom said", "The cat sat on the mat. The cat sat on the mat. The"
    };

    record Model(GgufFile file, ModelConfig config, CpuTransformer transformer, Tokenizer tokenizer) implements AutoCloseable {
        static Model open(String name) {
            GgufFile f = GgufFile.open(TestFiles.model(name));
            ModelConfig c = ModelConfig.from(f);
            return new Model(f, c, new CpuTransformer(c, new ModelWeights(f, c), 2, false), Tokenizer.fromGguf(f));
        }

        KvCache cache() {
            return new KvCache(config, 256, KvCache.Precision.F32);
        }

        @Override
        public void close() {
            transformer.close();
            file.close();
        }
    }

    static int[] targetAlone(Model m, int[] prompt, SamplingParams params, int n) {
        Generator g = new Generator(m.transformer(), m.cache(), 512);
        g.setSequence(prompt);
        return g.generate(new Sampler(params), n, t -> false, t -> {});
    }

    static int[] speculative(Model m, int[] prompt, SamplingParams params, int n, DraftSource draft, SpeculativeDecoder.Options o) {
        SpeculativeDecoder s = new SpeculativeDecoder(m.transformer(), m.cache(), 512, draft, o);
        s.setSequence(prompt);
        int[] out = s.generate(new Sampler(params), n, t -> false, t -> {});
        assertEquals(n, s.generatedTokens);
        assertTrue(s.draftAccepted <= s.draftN);
        return out;
    }

    @ParameterizedTest(name = "{0}, {1}")
    @CsvSource({
        "stories260K.gguf, model", "stories260K-q8_0.gguf, model", "stories260K-q4_0.gguf, model",
        "stories260K.gguf, lookup", "stories260K-q8_0.gguf, adaptive", "stories260K.gguf, bridge",
    })
    void greedyTextIsTheTargetsOwn(String target, String kind) {
        try (Model t = Model.open(target); Model d = Model.open(DRAFT)) {
            for (String p : PROMPTS) {
                int[] prompt = t.tokenizer().encode(p, true, false);
                int[] expected = targetAlone(t, prompt, SamplingParams.greedy(), 64);
                ModelDraft md = new ModelDraft(d.transformer(), d.cache(), SamplingParams.greedy(), 0f);
                DraftSource source = switch (kind) {
                    case "lookup" -> new PromptLookup(3);
                    case "bridge" -> new TextBridgeDraft(md, t.tokenizer(), d.tokenizer());
                    default -> md;
                };
                var options = new SpeculativeDecoder.Options(kind.equals("lookup") ? 8 : 5, 0, kind.equals("adaptive"));
                int[] got = speculative(t, prompt, SamplingParams.greedy(), 64, source, options);
                assertArrayEquals(expected, got, target + " / " + kind + " / " + p);
            }
        }
    }

    @Test
    void theDraftModelIsAcceptedOftenOnTheSharedPair() {
        try (Model t = Model.open("stories260K.gguf"); Model d = Model.open(DRAFT)) {
            int[] prompt = t.tokenizer().encode(PROMPTS[0], true, false);
            var s = new SpeculativeDecoder(t.transformer(), t.cache(), 512,
                    new ModelDraft(d.transformer(), d.cache(), SamplingParams.greedy(), 0f), new SpeculativeDecoder.Options(4, 0, false));
            s.setSequence(prompt);
            s.generate(new Sampler(SamplingParams.greedy()), 64, x -> false, x -> {});
            assertTrue(s.draftN > 0 && s.rounds < 64, "rounds " + s.rounds);
            assertTrue(s.tokensPerRound() > 1.0, "tokens per round " + s.tokensPerRound());
        }
    }

    /**
     * First generated token over many seeded runs at temperature 1.5, top-k 8: the counts must fit
     * the target's own distribution (chi-square with 7 degrees of freedom below 24.3, p = 0.001).
     * The negative control is a subtle bug: the draft draws from its q but reports q as flat over
     * its candidates, so acceptance uses the wrong ratio; the test must reject that. (Reporting
     * proposals as certain would not be a bug: accepting with p(x) and resampling from p without
     * x is also exact, which is why prompt lookup needs no q.)
     */
    @Test
    void firstTokenDistributionMatchesTheTargetWithRejectionSampling() {
        try (Model t = Model.open("stories260K.gguf"); Model d = Model.open(DRAFT)) {
            int[] prompt = t.tokenizer().encode("Once upon a time, there was a", true, false);
            SamplingParams base = new SamplingParams(1.5f, 8, 1f, 0f, 1f, 0, 0f, 0f, 1);
            // The target's distribution for the first token.
            Generator g = new Generator(t.transformer(), t.cache(), 512);
            g.setSequence(prompt);
            float[] logits = t.transformer().forward(new int[] {prompt[prompt.length - 1]}, truncatedCopy(t, prompt), false)[0];
            var p = new Sampler(base).distribution(logits);

            int runs = 4000;
            Function<Boolean, double[]> counts = honest -> {
                double[] c = new double[t.config().vocabSize()];
                KvCache tc = t.cache(), dc = d.cache();
                for (int r = 0; r < runs; r++) {
                    SamplingParams sp = base.withSeed(1000 + r);
                    DraftSource src = new ModelDraft(d.transformer(), dc, sp, 0f);
                    if (!honest) src = misreportQ(src);
                    var s = new SpeculativeDecoder(t.transformer(), tc, 512, src, new SpeculativeDecoder.Options(3, 0, false));
                    tc.truncate(0);
                    dc.truncate(0);
                    s.setSequence(prompt);
                    // Two tokens, so the round drafts (a budget of one leaves no room for proposals); the first is checked.
                    int[] out = s.generate(new Sampler(sp), 2, x -> false, x -> {});
                    assertTrue(s.draftN > 0, "the draft proposed nothing");
                    c[out[0]]++;
                }
                return c;
            };
            double honest = chiSquare(counts.apply(true), p, runs);
            System.out.printf("first-token chi-square over %d runs: with rejection sampling %.2f%n", runs, honest);
            assertTrue(honest < 24.3, "chi-square " + honest + " over " + p.size() + " tokens");
            double control = chiSquare(counts.apply(false), p, runs);
            System.out.printf("first-token chi-square, q misreported as flat: %.2f%n", control);
            assertTrue(control > 24.3, "a misreported q must be caught, chi-square " + control);
        }
    }

    private static KvCache truncatedCopy(Model t, int[] prompt) {
        KvCache c = t.cache();
        t.transformer().forward(Arrays.copyOf(prompt, prompt.length - 1), c, false);
        return c;
    }

    /** Reports each proposal's q as flat over the draft's candidates, while the draw came from the real q. */
    private static DraftSource misreportQ(DraftSource s) {
        return new DraftSource() {
            @Override
            public Draft propose(int[] history, int length, int max) {
                Draft d = s.propose(history, length, max);
                var flat = new dev.specula.sampling.TokenDistribution[d.size()];
                for (int i = 0; i < d.size(); i++) {
                    int[] cand = d.q()[i].tokens();
                    float[] probs = new float[cand.length];
                    Arrays.fill(probs, 1f / cand.length);
                    flat[i] = new dev.specula.sampling.TokenDistribution(cand, probs);
                }
                return new Draft(d.tokens(), flat);
            }

            @Override
            public String describe() {
                return "control";
            }
        };
    }

    static double chiSquare(double[] counts, dev.specula.sampling.TokenDistribution p, int n) {
        double chi = 0, outside = 0;
        for (int i = 0; i < counts.length; i++) if (p.probability(i) == 0) outside += counts[i];
        if (outside > 0) return Double.POSITIVE_INFINITY;
        for (int j = 0; j < p.size(); j++) {
            double expected = n * p.probs()[j];
            double diff = counts[p.tokens()[j]] - expected;
            chi += diff * diff / expected;
        }
        return chi;
    }
}
