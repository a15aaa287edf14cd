package dev.specula.cli;

import dev.specula.engine.CpuTransformer;
import dev.specula.engine.KvCache;
import dev.specula.gguf.FileType;
import dev.specula.gguf.GgufFile;
import dev.specula.model.ModelConfig;
import dev.specula.model.ModelWeights;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import dev.specula.engine.Generator;
import dev.specula.sampling.Sampler;
import dev.specula.sampling.SamplingParams;
import dev.specula.speculative.SpeculativeDecoder;
import dev.specula.tokenizer.Tokenizer;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code specula bench}: llama-bench's pp (prompt processing: one batch of P tokens into an empty
 * cache) and tg (text generation: N tokens decoded one at a time) tests, as a markdown table of
 * tokens/s, median over repetitions with the spread (min..max).
 */
@Command(name = "bench", description = "Measure prompt processing (pp) and generation (tg) speed, like llama-bench.")
final class BenchCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = {"-m", "--model"}, required = true, paramLabel = "FILE", description = "GGUF model")
    Path model;

    @Option(names = {"-p", "--n-prompt"}, split = ",", paramLabel = "N", description = "prompt lengths for pp tests (default: 512); 0 skips")
    int[] prompt = {512};

    @Option(names = {"-n", "--n-gen"}, split = ",", paramLabel = "N", description = "tokens for tg tests (default: 128); 0 skips")
    int[] gen = {128};

    @Option(names = {"-t", "--threads"}, split = ",", paramLabel = "N", description = "threads (default: all cores)")
    int[] threads = {Runtime.getRuntime().availableProcessors()};

    @Option(names = {"-fa", "--flash-attn"}, split = ",", paramLabel = "0|1", description = "FlashAttention off/on (default: 0)")
    int[] flash = {0};

    @Option(names = {"-r", "--repetitions"}, paramLabel = "N", description = "repetitions per test (default: 5)")
    int repetitions = 5;

    @Option(names = "--warmup", paramLabel = "N", description = "untimed runs before each test, at least (default: 1)")
    int warmup = 1;

    @Option(names = "--warmup-ms", paramLabel = "MS",
            description = "keep warming up until this much time has passed, so the JIT has compiled the kernels (default: 2000)")
    long warmupMillis = 2000;

    @Mixin
    DraftOptions draft = new DraftOptions();

    @Option(names = "--spec-prompt", paramLabel = "NAME=TEXT",
            description = "with -md or --lookup: a prompt to measure, repeatable (default: a built-in code, maths, story and repetitive prompt)")
    Map<String, String> specPrompts = new LinkedHashMap<>();

    /** The prompts a speculative bench measures by default: text of different kinds accepts drafts differently. */
    static final Map<String, String> DEFAULT_SPEC_PROMPTS = Map.of(
            "code", "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n\n"
                    + "def factorial(n):\n    if n < 2:\n        return 1\n    return n * factorial(n - 1)\n\ndef",
            "maths", "Question: what is 12 times 7? Answer: 12 times 7 is 84. Question: what is 9 times 8? Answer: 9 times 8 is",
            "story", "Once upon a time, there was a little girl named Lily. She",
            "repetitive", "The cat sat on the mat. The dog sat on the log. The cat sat on the mat. The dog sat on the log. The cat");

    @Option(names = {"-o", "--output"}, paramLabel = "md|jsonl", description = "markdown table (default) or one JSON object per test, for scripts")
    String output = "md";

    @Override
    public Integer call() {
        if (repetitions < 1) throw new UserError("-r must be at least 1");
        if (!output.equals("md") && !output.equals("jsonl")) throw new UserError("-o must be md or jsonl, not '" + output + "'");
        PrintWriter out = spec.commandLine().getOut();
        if (draft.enabled()) return speculative(out);
        try (GgufFile f = LoadProgress.open(model)) {
            ModelConfig c = ModelConfig.from(f);
            ModelWeights w = new ModelWeights(f, c);
            String name = f.metadata().optString("general.name").orElse(c.architecture());
            String ftype = f.metadata().contains("general.file_type") ? FileType.name(f.metadata().getInt("general.file_type")) : "?";
            String label = name + " " + ftype, size = Units.bytes(f.totalTensorBytes()), params = Units.count(f.totalElements());
            TextTable table = new TextTable("model", "size:", "params:", "backend", "threads:", "fa:", "test:", "t/s:");
            for (int t : threads) {
                for (int fa : flash) {
                    try (CpuTransformer m = new CpuTransformer(c, w, t, fa != 0)) {
                        for (int p : prompt) {
                            if (p > 0) report(out, table, label, size, params, t, fa, "pp" + p, measure(m, c, p, true));
                        }
                        for (int n : gen) {
                            if (n > 0) report(out, table, label, size, params, t, fa, "tg" + n, measure(m, c, n, false));
                        }
                    }
                }
            }
            if (output.equals("md")) table.print(out);
        }
        return 0;
    }

    private void report(PrintWriter out, TextTable table, String label, String size, String params, int threads, int fa, String test, double[] rates) {
        if (output.equals("md")) {
            table.row(label, size, params, "CPU", threads, fa, test, format(rates));
            return;
        }
        double min = Arrays.stream(rates).min().orElse(0), max = Arrays.stream(rates).max().orElse(0);
        out.printf(Locale.ROOT, "{\"model\": \"%s\", \"file\": \"%s\", \"threads\": %d, \"fa\": %d, \"test\": \"%s\", \"median_ts\": %.3f, \"min_ts\": %.3f, \"max_ts\": %.3f}%n",
                label.replace("\\", "\\\\").replace("\"", "\\\""), model.getFileName().toString().replace("\"", "\\\""), threads, fa, test, median(rates), min, max);
        out.flush();
    }

    /** Tokens/s of each repetition. pp: one batch of n tokens; tg: n single-token steps after BOS. */
    private double[] measure(CpuTransformer m, ModelConfig c, int n, boolean prefill) {
        SplittableRandom rnd = new SplittableRandom(n);
        int[] tokens = rnd.ints(n, 0, c.vocabSize()).toArray();
        double[] rates = new double[repetitions];
        long warmupEnd = System.nanoTime() + warmupMillis * 1_000_000;
        for (int done = 0; done < Math.max(warmup, 1) || System.nanoTime() < warmupEnd; done++) {
            run(m, c, tokens, n, prefill);
        }
        for (int r = 0; r < repetitions; r++) rates[r] = n / run(m, c, tokens, n, prefill);
        return rates;
    }

    /** Seconds one pp or tg test takes. */
    private static double run(CpuTransformer m, ModelConfig c, int[] tokens, int n, boolean prefill) {
        KvCache cache = new KvCache(c, n + 1, KvCache.Precision.F16);
        long t0;
        if (prefill) {
            t0 = System.nanoTime();
            m.forward(tokens, cache, false);
        } else {
            m.forward(new int[] {tokens[0]}, cache, false);
            t0 = System.nanoTime();
            for (int i = 0; i < n; i++) m.forward(new int[] {tokens[i]}, cache, false);
        }
        return (System.nanoTime() - t0) / 1e9;
    }

    /**
     * Greedy generation of -n tokens per prompt, by the target alone and with the draft, timed
     * after the prompt is in the cache; the median over repetitions of each, the draft statistics
     * and whether the two texts are the same (they must be).
     */
    private int speculative(PrintWriter out) {
        SpeculativeDecoder.Options options = draft.options();
        if (gen.length != 1 || gen[0] < 1) throw new UserError("with -md or --lookup, -n takes one positive token count (tg length)");
        if (threads.length != 1 || flash.length != 1) throw new UserError("with -md or --lookup, give one -t and one -fa value");
        int n = gen[0], t = threads[0];
        boolean fa = flash[0] != 0;
        Map<String, String> prompts = new LinkedHashMap<>();
        if (specPrompts.isEmpty()) {
            for (String k : new String[] {"code", "maths", "story", "repetitive"}) prompts.put(k, DEFAULT_SPEC_PROMPTS.get(k));
        } else {
            prompts.putAll(specPrompts);
        }
        TextTable table = new TextTable("prompt", "threads:", "test:", "target t/s:", "speculative t/s:", "speed-up:",
                "draft_n:", "draft_n_accepted:", "acceptance:", "tokens/round:", "same text");
        try (GgufFile f = LoadProgress.open(model)) {
            ModelConfig c = ModelConfig.from(f);
            Tokenizer tok = Tokenizer.fromGguf(f);
            SamplingParams greedy = SamplingParams.greedy();
            try (CpuTransformer m = new CpuTransformer(c, new ModelWeights(f, c), t, fa);
                 DraftOptions.Handle h = draft.open(tok, 4096, t, fa, KvCache.Precision.F16, greedy, spec.commandLine().getErr())) {
                for (Map.Entry<String, String> e : prompts.entrySet()) {
                    int[] prompt = tok.encode(e.getValue(), true, false);
                    int ctx = prompt.length + n + options.draftMax() + 2;
                    double[] plain = new double[repetitions], fast = new double[repetitions];
                    long warmupEnd = System.nanoTime() + warmupMillis * 1_000_000;
                    for (int done = 0; done < Math.max(warmup, 1) || System.nanoTime() < warmupEnd; done++) {
                        runPair(m, c, ctx, prompt, n, h, options);
                    }
                    SpecPair last = null;
                    for (int r = 0; r < repetitions; r++) {
                        last = runPair(m, c, ctx, prompt, n, h, options);
                        plain[r] = n / (last.plain().generationNanos / 1e9);
                        fast[r] = n / (last.fast().generationNanos / 1e9);
                    }
                    double speedup = median(fast) / median(plain);
                    table.row(e.getKey(), t, "tg" + n, format(plain), format(fast), String.format(Locale.ROOT, "%.2fx", speedup),
                            last.fast().draftN, last.fast().draftAccepted, String.format(Locale.ROOT, "%.1f %%", 100 * last.fast().acceptanceRate()),
                            String.format(Locale.ROOT, "%.2f", last.fast().tokensPerRound()), Arrays.equals(last.plainText(), last.fastText()) ? "yes" : "NO");
                }
            }
        }
        out.println("draft: " + (draft.draftModel != null ? draft.draftModel.getFileName() : "lookup, n-gram " + draft.lookup)
                + ", --draft-max " + options.draftMax() + ", --draft-min " + options.draftMin()
                + (draft.draftModel != null ? ", --draft-p-min " + draft.draftPMin : "") + (options.adaptive() ? ", --draft-adaptive" : "")
                + "; temperature 0");
        table.print(out);
        return 0;
    }

    private record SpecPair(Generator plain, int[] plainText, SpeculativeDecoder fast, int[] fastText) {}

    /** Greedy generation of n tokens after the prompt, by the target alone and with the draft, each in a fresh cache. */
    private static SpecPair runPair(CpuTransformer m, ModelConfig c, int ctx, int[] prompt, int n, DraftOptions.Handle h,
                                    SpeculativeDecoder.Options options) {
        SamplingParams greedy = SamplingParams.greedy();
        Generator g = new Generator(m, new KvCache(c, ctx, KvCache.Precision.F16), 512);
        g.setSequence(prompt);
        int[] plainText = g.generate(new Sampler(greedy), n, x -> false, x -> {});
        SpeculativeDecoder s = new SpeculativeDecoder(m, new KvCache(c, ctx, KvCache.Precision.F16), 512, h.source(), options);
        s.setSequence(prompt);
        int[] fastText = s.generate(new Sampler(greedy), n, x -> false, x -> {});
        return new SpecPair(g, plainText, s, fastText);
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static String format(double[] rates) {
        double min = Arrays.stream(rates).min().orElse(0), max = Arrays.stream(rates).max().orElse(0);
        return String.format(Locale.ROOT, "%.2f (%.2f..%.2f)", median(rates), min, max);
    }
}
