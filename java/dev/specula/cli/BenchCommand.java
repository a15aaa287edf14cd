package dev.specula.cli;

import dev.specula.engine.CudaTransformer;
import dev.specula.engine.LayerSplitTransformer;
import dev.specula.engine.KvCache;
import dev.specula.engine.Transformer;
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
 * tokens/s, median over repetitions with the spread (min..max). On a GPU ({@code --device cuda})
 * tg also reports how busy the GPU was: the device time of the replayed decode steps (measured by
 * events around each graph launch) over the wall time of the decode loop.
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

    @Mixin
    DeviceOption device = new DeviceOption();

    /** Whether the table has the GPU-busy column (on a GPU). */
    private boolean gpuColumn;

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
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        if (draft.enabled()) return speculative(out);
        try (GgufFile f = LoadProgress.open(model)) {
            ModelConfig c = ModelConfig.from(f);
            ModelWeights w = new ModelWeights(f, c);
            int longest = Arrays.stream(prompt).max().orElse(0) + Arrays.stream(gen).max().orElse(0) + 1;
            DeviceOption.Backend backend = device.choose(f, c, longest, KvCache.Precision.F16, Math.max(1, Arrays.stream(prompt).max().orElse(1)), err);
            gpuColumn = backend != DeviceOption.Backend.CPU;
            String name = f.metadata().optString("general.name").orElse(c.architecture());
            String ftype = f.metadata().contains("general.file_type") ? FileType.name(f.metadata().getInt("general.file_type")) : "?";
            String label = name + " " + ftype, size = Units.bytes(f.totalTensorBytes()), params = Units.count(f.totalElements());
            TextTable table = gpuColumn ? new TextTable("model", "size:", "params:", "backend", "threads:", "fa:", "test:", "t/s:", "gpu busy:")
                    : new TextTable("model", "size:", "params:", "backend", "threads:", "fa:", "test:", "t/s:");
            for (int t : threads) {
                for (int fa : flash) {
                    try (Transformer m = device.open(backend, c, w, t, fa != 0, err)) {
                        for (int p : prompt) {
                            if (p > 0) report(out, table, label, size, params, m, t, fa, "pp" + p, measure(m, c, p, true));
                        }
                        for (int n : gen) {
                            if (n > 0) report(out, table, label, size, params, m, t, fa, "tg" + n, measure(m, c, n, false));
                        }
                    }
                }
            }
            if (output.equals("md")) table.print(out);
        }
        return 0;
    }

    /** The backend column: CPU+CUDA0 where a placement keeps feed-forwards (--cpu-moe, -ot) or layers on the CPU. */
    static String backendLabel(Transformer m) {
        return m instanceof dev.specula.engine.CudaTransformer c && c.splitsFeedForward() ? "CPU+" + m.backendName() : m.backendName();
    }

    /** Tokens/s of each repetition, and the GPU's busy share of each tg loop (NaN on the CPU, for pp, or without event timing). */
    record Rates(double[] tokensPerSecond, double[] gpuBusy) {}

    private void report(PrintWriter out, TextTable table, String label, String size, String params, Transformer m, int threads, int fa,
                        String test, Rates r) {
        double[] rates = r.tokensPerSecond();
        double busy = median(r.gpuBusy());
        String column = backendLabel(m);
        if (output.equals("md")) {
            if (gpuColumn) {
                table.row(label, size, params, column, threads, fa, test, format(rates),
                        Double.isNaN(busy) ? "" : String.format(Locale.ROOT, "%.1f %%", 100 * busy));
            } else {
                table.row(label, size, params, column, threads, fa, test, format(rates));
            }
            return;
        }
        double min = Arrays.stream(rates).min().orElse(0), max = Arrays.stream(rates).max().orElse(0);
        out.printf(Locale.ROOT, "{\"model\": \"%s\", \"file\": \"%s\", \"backend\": \"%s\", \"threads\": %d, \"fa\": %d, \"test\": \"%s\", \"median_ts\": %.3f, \"min_ts\": %.3f, \"max_ts\": %.3f%s}%n",
                label.replace("\\", "\\\\").replace("\"", "\\\""), model.getFileName().toString().replace("\"", "\\\""), column, threads, fa, test,
                median(rates), min, max, Double.isNaN(busy) ? "" : String.format(Locale.ROOT, ", \"gpu_busy\": %.4f", busy));
        out.flush();
    }

    /** pp: one batch of n tokens; tg: n single-token steps after BOS. */
    private Rates measure(Transformer m, ModelConfig c, int n, boolean prefill) {
        SplittableRandom rnd = new SplittableRandom(n);
        int[] tokens = rnd.ints(n, 0, c.vocabSize()).toArray();
        double[] rates = new double[repetitions], busy = new double[repetitions];
        try (KvCache cache = m.newCache(n + 1, KvCache.Precision.F16)) {
            long warmupEnd = System.nanoTime() + warmupMillis * 1_000_000;
            for (int done = 0; done < Math.max(warmup, 1) || System.nanoTime() < warmupEnd; done++) {
                run(m, cache, tokens, n, prefill);
            }
            for (int r = 0; r < repetitions; r++) {
                Run run = run(m, cache, tokens, n, prefill);
                rates[r] = n / run.seconds();
                busy[r] = run.gpuBusy();
            }
        }
        return new Rates(rates, busy);
    }

    /** One test's wall time, and the GPU's busy share of it (NaN where not measured). */
    private record Run(double seconds, double gpuBusy) {}

    /** One pp or tg test, in {@code cache} emptied first (so a GPU reuses its recorded decode step). */
    private static Run run(Transformer m, KvCache cache, int[] tokens, int n, boolean prefill) {
        cache.truncate(0);
        // A layer split's busy share is its GPU segment's: the graph replays of the layers there.
        CudaTransformer gpu = prefill ? null : m instanceof CudaTransformer g ? g : m instanceof LayerSplitTransformer l ? l.gpu() : null;
        long t0;
        if (prefill) {
            t0 = System.nanoTime();
            m.forward(tokens, cache, false);
        } else {
            m.forward(new int[] {tokens[0]}, cache, false);
            if (gpu != null) gpu.resetTiming();
            t0 = System.nanoTime();
            for (int i = 0; i < n; i++) m.forward(new int[] {tokens[i]}, cache, false);
        }
        long wall = System.nanoTime() - t0;
        double busy = gpu == null || gpu.timedSteps() == 0 ? Double.NaN : gpu.gpuMillis() * 1e6 / wall;
        return new Run(wall / 1e9, busy);
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
            PrintWriter err = spec.commandLine().getErr();
            DeviceOption.Backend backend = device.choose(f, c, 4096, KvCache.Precision.F16, 512, err);
            try (Transformer m = device.open(backend, c, new ModelWeights(f, c), t, fa, err);
                 DraftOptions.Handle h = draft.open(tok, 4096, t, fa, KvCache.Precision.F16, greedy, device, backend, err)) {
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
    private static SpecPair runPair(Transformer m, ModelConfig c, int ctx, int[] prompt, int n, DraftOptions.Handle h,
                                    SpeculativeDecoder.Options options) {
        SamplingParams greedy = SamplingParams.greedy();
        try (KvCache plainCache = m.newCache(ctx, KvCache.Precision.F16); KvCache fastCache = m.newCache(ctx, KvCache.Precision.F16)) {
            Generator g = new Generator(m, plainCache, 512);
            g.setSequence(prompt);
            int[] plainText = g.generate(new Sampler(greedy), n, x -> false, x -> {});
            SpeculativeDecoder s = new SpeculativeDecoder(m, fastCache, 512, h.source(), options);
            s.setSequence(prompt);
            int[] fastText = s.generate(new Sampler(greedy), n, x -> false, x -> {});
            return new SpecPair(g, plainText, s, fastText);
        }
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
