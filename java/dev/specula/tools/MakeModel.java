package dev.specula.tools;

import dev.specula.gguf.GgmlType;
import dev.specula.gguf.GgufFile;
import dev.specula.gguf.GgufValue;
import dev.specula.gguf.GgufWriter;
import dev.specula.tensor.TensorFormats;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Writes a llama / qwen2 / qwen3 GGUF with seeded random weights and real tensor names and
 * metadata, at any size: the models for speed measurements (the shared models are too small
 * for kernels to dominate) and for tests of shapes the shared models lack. The tokenizer (every
 * {@code tokenizer.*} key) is copied from an existing GGUF, so the vocabulary is real; the text a
 * random model writes is not.
 *
 * <pre>tools/make-model --vocab-from ../shared/fixtures/tokenizer/ggml-vocab-llama-spm.gguf \
 *     --dim 768 --layers 12 --heads 12 --kv-heads 4 --ff 2048 --type f16 -o /tmp/llama-125m-f16.gguf</pre>
 */
@Command(name = "make-model", mixinStandardHelpOptions = true,
        description = "Write a GGUF model with seeded random weights (for benchmarks and tests).")
public final class MakeModel implements Callable<Integer> {
    @Option(names = {"-o", "--output"}, required = true, description = "output GGUF file")
    Path output;

    @Option(names = "--vocab-from", required = true, description = "GGUF file whose tokenizer.* keys are copied")
    Path vocabFrom;

    @Option(names = "--arch", defaultValue = "llama", description = "llama, qwen2 or qwen3 (default ${DEFAULT-VALUE})")
    String arch;

    @Option(names = "--dim", defaultValue = "768") int dim;
    @Option(names = "--layers", defaultValue = "12") int layers;
    @Option(names = "--heads", defaultValue = "12") int heads;
    @Option(names = "--kv-heads", defaultValue = "4") int kvHeads;
    @Option(names = "--ff", defaultValue = "2048") int ff;
    @Option(names = "--ctx", defaultValue = "4096") int ctx;
    @Option(names = "--tied", description = "no output.weight: the embedding doubles as the output") boolean tied;
    @Option(names = "--seed", defaultValue = "1") long seed;

    @Option(names = "--type", defaultValue = "f16",
            description = "type of the 2-D weights: f32, f16, q8_0, q4_0 (ggml's own quantizers; use llama-quantize for K-quants)")
    String type;

    public static void main(String[] args) {
        System.exit(new CommandLine(new MakeModel()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        if (dim % heads != 0 || heads % kvHeads != 0) throw new IllegalArgumentException("--dim must divide by --heads, --heads by --kv-heads");
        GgmlType weightType = GgmlType.valueOf(type.toUpperCase());
        int headDim = dim / heads;
        SplittableRandom random = new SplittableRandom(seed);
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", arch);
        w.putString("general.name", "specula-random-" + arch + "-" + dim + "x" + layers);
        w.putUInt32("general.file_type", switch (weightType) {
            case F32 -> 0;
            case F16 -> 1;
            case Q4_0 -> 2;
            case Q8_0 -> 7;
            default -> throw new IllegalArgumentException("--type " + type + ": use f32, f16, q8_0 or q4_0");
        });
        w.putUInt32(arch + ".context_length", ctx);
        w.putUInt32(arch + ".embedding_length", dim);
        w.putUInt32(arch + ".block_count", layers);
        w.putUInt32(arch + ".feed_forward_length", ff);
        w.putUInt32(arch + ".attention.head_count", heads);
        w.putUInt32(arch + ".attention.head_count_kv", kvHeads);
        w.putUInt32(arch + ".rope.dimension_count", headDim);
        w.putFloat32(arch + ".attention.layer_norm_rms_epsilon", 1e-5f);
        w.putFloat32(arch + ".rope.freq_base", arch.equals("llama") ? 10000f : 1000000f);

        int vocab;
        try (GgufFile v = GgufFile.open(vocabFrom)) {
            for (Map.Entry<String, GgufValue> e : v.metadata().asMap().entrySet()) {
                if (e.getKey().startsWith("tokenizer.")) w.put(e.getKey(), e.getValue().type(), e.getValue().value());
            }
            vocab = v.metadata().getArray("tokenizer.ggml.tokens").size();
        }
        w.putUInt32(arch + ".vocab_size", vocab);

        int kvDim = kvHeads * headDim;
        matrix(w, "token_embd.weight", dim, vocab, weightType, random);
        for (int i = 0; i < layers; i++) {
            String p = "blk." + i + ".";
            norm(w, p + "attn_norm.weight", dim);
            matrix(w, p + "attn_q.weight", dim, dim, weightType, random);
            matrix(w, p + "attn_k.weight", dim, kvDim, weightType, random);
            matrix(w, p + "attn_v.weight", dim, kvDim, weightType, random);
            if (arch.equals("qwen2")) {
                vector(w, p + "attn_q.bias", dim, random);
                vector(w, p + "attn_k.bias", kvDim, random);
                vector(w, p + "attn_v.bias", kvDim, random);
            }
            if (arch.equals("qwen3")) {
                norm(w, p + "attn_q_norm.weight", headDim);
                norm(w, p + "attn_k_norm.weight", headDim);
            }
            matrix(w, p + "attn_output.weight", dim, dim, weightType, random);
            norm(w, p + "ffn_norm.weight", dim);
            matrix(w, p + "ffn_gate.weight", dim, ff, weightType, random);
            matrix(w, p + "ffn_up.weight", dim, ff, weightType, random);
            matrix(w, p + "ffn_down.weight", ff, dim, weightType, random);
        }
        norm(w, "output_norm.weight", dim);
        if (!tied) matrix(w, "output.weight", dim, vocab, weightType, random);
        w.write(output);
        System.out.println(output);
        return 0;
    }

    /** A {@code cols x rows} weight, normal with standard deviation 1/sqrt(cols) so activations stay O(1). */
    private static void matrix(GgufWriter w, String name, int cols, int rows, GgmlType type, SplittableRandom random) {
        float[] values = new float[Math.multiplyExact(cols, rows)];
        double std = 1 / Math.sqrt(cols);
        for (int i = 0; i < values.length; i++) values[i] = (float) (random.nextGaussian() * std);
        MemorySegment encoded = TensorFormats.of(type).quantize(values);
        w.addTensor(name, type, new long[] {cols, rows}, encoded.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
    }

    private static void norm(GgufWriter w, String name, int n) {
        float[] ones = new float[n];
        java.util.Arrays.fill(ones, 1f);
        w.addF32Tensor(name, new long[] {n}, ones);
    }

    private static void vector(GgufWriter w, String name, int n, SplittableRandom random) {
        float[] values = new float[n];
        for (int i = 0; i < n; i++) values[i] = (float) (random.nextGaussian() * 0.02);
        w.addF32Tensor(name, new long[] {n}, values);
    }
}
