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
import picocli.CommandLine.Command;
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

    @Option(names = {"-o", "--output"}, paramLabel = "md|jsonl", description = "markdown table (default) or one JSON object per test, for scripts")
    String output = "md";

    @Override
    public Integer call() {
        if (repetitions < 1) throw new UserError("-r must be at least 1");
        if (!output.equals("md") && !output.equals("jsonl")) throw new UserError("-o must be md or jsonl, not '" + output + "'");
        PrintWriter out = spec.commandLine().getOut();
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
