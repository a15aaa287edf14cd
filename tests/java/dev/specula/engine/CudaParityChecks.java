package dev.specula.engine;

import static org.junit.jupiter.api.Assertions.*;

import dev.specula.TestFiles;
import dev.specula.backend.cuda.CudaLibrary;
import dev.specula.gguf.GgufFile;
import dev.specula.model.ModelConfig;
import dev.specula.model.ModelWeights;
import dev.specula.sampling.Sampler;
import dev.specula.sampling.SamplingParams;
import dev.specula.speculative.ModelDraft;
import dev.specula.speculative.SpeculativeDecoder;
import dev.specula.tools.MakeModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.CommandLine;

/**
 * The CUDA forward pass against the CPU reference, on every shared model and on generated
 * qwen2/qwen3/llama models with a head size the FlashAttention kernel takes: prefill of a
 * whole prompt in one batch (GEMM), 32 single-token steps replayed from the recorded graph
 * (GEMV), a verification-sized batch, greedy text, and graph replay against direct launches.
 * {@link #library()} decides what runs it: the host emulation of specula.h in CI
 * ({@link CudaTransformerTest}) or the real library on a GPU ({@link CudaTransformerGpuTest}).
 *
 * <p>Tolerance. Both sides keep an F16 KV cache; they differ in how activations are rounded
 * before a product. The CPU rounds them as llama.cpp does for the weight type: not at all for
 * F32 weights, to 8-bit Q8_0/Q8_K levels for quantised ones (an error of up to 1/254 of a
 * 32-value block's maximum). The GPU's GEMM rounds activations and dequantised weights to F16
 * (2^-11 relative); its GEMV keeps F32 activations, or rounds to 8 bits its own way. Through
 * stories260K's 5 layers (dim 64, logits spanning about ±15) and the KV cache that carries each
 * rounding forward, these give, measured on the host emulation over prefill plus 32 steps:
 * <ul>
 *   <li>F32/F16 weights: at most 0.06 ({@link #FLOAT_TOLERANCE} = 0.15, 2.5x). A 10 % error in
 *       the attention scale gives 0.38-0.61 there, a swapped RoPE layout 8-10: the float models
 *       are where a wrong attention, RoPE or norm kernel shows.
 *   <li>Quantised weights: at most 0.30, the CPU's 8-bit rounding noise itself
 *       ({@link #QUANTISED_TOLERANCE} = 0.5: two independent 8-bit roundings differ by up to
 *       about 1.4x one, the bound the llama.cpp reference test also uses for a flipped 8-bit
 *       rounding). These catch wrong dequantisation (whole units), not subtle scale errors.
 * </ul>
 * Greedy text must agree up to the first step where the CPU's own top-2 margin is below twice the
 * bound (a near-tie either may break differently), and all the way where there is none.
 */
abstract class CudaParityChecks {
    static final float FLOAT_TOLERANCE = 0.15f, QUANTISED_TOLERANCE = 0.5f;
    static final int DECODE_STEPS = 32;
    /** Reference tokens fed after the fixture prompt in the prefill, so the batch takes the GEMM path. */
    static final int PREFILL_EXTRA = 24;

    /** The library under test; skips (with the reason) when there is none. */
    abstract CudaLibrary library();

    static Stream<Arguments> sharedModels() throws IOException {
        Path dir = TestFiles.shared().resolve("models");
        if (!Files.isDirectory(dir)) return Stream.of(Arguments.of("absent.gguf", false));
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".gguf")).sorted()
                    .flatMap(n -> Stream.of(Arguments.of(n, false), Arguments.of(n, true))).toList().stream();
        }
    }

    /** A CPU and a CUDA transformer of one model, closed together. */
    record Pair(GgufFile file, ModelConfig config, CpuTransformer cpu, CudaTransformer gpu) implements AutoCloseable {
        /** The logit bound for this model's weights (see the class comment). */
        float tolerance() {
            return file.requireTensor("blk.0.attn_q.weight").type().quantized() ? QUANTISED_TOLERANCE : FLOAT_TOLERANCE;
        }

        @Override
        public void close() {
            gpu.close();
            cpu.close();
            file.close();
        }
    }

    Pair open(Path model, boolean fa) {
        CudaLibrary lib = library();
        GgufFile f = GgufFile.open(model);
        try {
            ModelConfig c = ModelConfig.from(f);
            ModelWeights w = new ModelWeights(f, c);
            return new Pair(f, c, new CpuTransformer(c, w, 2, fa), new CudaTransformer(lib, 0, c, w, fa));
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    static float maxDifference(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        float max = 0;
        for (int i = 0; i < a.length; i++) {
            float d = Math.abs(a[i] - b[i]);
            if (!(d <= max)) max = Float.isNaN(d) ? Float.POSITIVE_INFINITY : d;
        }
        return max;
    }

    static float margin(float[] logits) {
        float first = Float.NEGATIVE_INFINITY, second = Float.NEGATIVE_INFINITY;
        for (float v : logits) {
            if (v > first) {
                second = first;
                first = v;
            } else if (v > second) {
                second = v;
            }
        }
        return first - second;
    }

    @ParameterizedTest(name = "{0}, flash attention {1}")
    @MethodSource("sharedModels")
    void sharedModelLogitsMatchTheCpuThroughPrefillAndRecordedDecodeSteps(String model, boolean fa) throws IOException {
        Path file = TestFiles.model(model);
        String stem = model.substring(0, model.length() - ".gguf".length());
        AllModelsReferenceTest.Reference ref = AllModelsReferenceTest.reference(stem, "p1", KvCache.Precision.F16);
        int[] prefill = Arrays.copyOf(ref.tokens(), ref.promptLength() + PREFILL_EXTRA);
        try (Pair p = open(file, fa)) {
            float worst = compareTeacherForced(p, prefill, ref.tokens(), DECODE_STEPS);
            System.err.printf(Locale.ROOT, "%s fa=%b (%s): largest logit difference %.4f%n", model, fa, library().path(), worst);
        }
    }

    /**
     * Prefill then {@code steps} single-token steps fed from {@code sequence}, on both; returns
     * the largest logit difference and asserts each is within the bound.
     */
    static float compareTeacherForced(Pair p, int[] prefill, int[] sequence, int steps) {
        KvCache cpuCache = p.cpu().newCache(prefill.length + steps + 1, KvCache.Precision.F16);
        KvCache gpuCache = p.gpu().newCache(prefill.length + steps + 1, KvCache.Precision.F16);
        p.gpu().resetTiming();
        float worst = maxDifference(p.cpu().forward(prefill, cpuCache, false)[0], p.gpu().forward(prefill, gpuCache, false)[0]);
        assertTrue(worst <= p.tolerance(), "prefill of " + prefill.length + ": logits differ by " + worst);
        for (int i = 0; i < steps; i++) {
            int[] token = {sequence[prefill.length + i]};
            float d = maxDifference(p.cpu().forward(token, cpuCache, false)[0], p.gpu().forward(token, gpuCache, false)[0]);
            assertTrue(d <= p.tolerance(), "decode step " + i + " (position " + (prefill.length + i) + "): logits differ by " + d);
            worst = Math.max(worst, d);
        }
        assertEquals(steps, p.gpu().timedSteps(), "every step a timed graph replay");
        return worst;
    }

    @ParameterizedTest(name = "{0}, flash attention {1}")
    @MethodSource("sharedModels")
    void greedyTextMatchesTheCpuUntilANearTie(String model, boolean fa) throws IOException {
        Path file = TestFiles.model(model);
        String stem = model.substring(0, model.length() - ".gguf".length());
        AllModelsReferenceTest.Reference ref = AllModelsReferenceTest.reference(stem, "p2", KvCache.Precision.F16);
        int[] prompt = Arrays.copyOf(ref.tokens(), ref.promptLength());
        try (Pair p = open(file, fa)) {
            KvCache cc = p.cpu().newCache(256, KvCache.Precision.F16), gc = p.gpu().newCache(256, KvCache.Precision.F16);
            float[] cpu = p.cpu().forward(prompt, cc, false)[0], gpu = p.gpu().forward(prompt, gc, false)[0];
            int checked = 0;
            for (; checked < DECODE_STEPS; checked++) {
                int expected = Sampler.argmax(cpu), got = Sampler.argmax(gpu);
                if (expected != got) {
                    // Only a near-tie may break differently; the texts part there.
                    assertTrue(margin(cpu) < 2 * p.tolerance(), "greedy token " + checked + ": " + got + " instead of " + expected
                            + " where the CPU's margin is " + margin(cpu));
                    break;
                }
                cpu = p.cpu().forward(new int[] {expected}, cc, false)[0];
                gpu = p.gpu().forward(new int[] {got}, gc, false)[0];
            }
            System.err.printf(Locale.ROOT, "%s fa=%b: greedy tokens equal: %d of %d%n", model, fa, checked, DECODE_STEPS);
        }
    }

    @Test
    void aVerificationSizedBatchGivesEveryRowsLogits() throws IOException {
        AllModelsReferenceTest.Reference ref = AllModelsReferenceTest.reference("stories260K-q8_0", "p3", KvCache.Precision.F16);
        int pl = ref.promptLength();
        try (Pair p = open(TestFiles.model("stories260K-q8_0.gguf"), false)) {
            KvCache cc = p.cpu().newCache(128, KvCache.Precision.F16), gc = p.gpu().newCache(128, KvCache.Precision.F16);
            int[] prompt = Arrays.copyOf(ref.tokens(), pl);
            p.cpu().forward(prompt, cc, false);
            p.gpu().forward(prompt, gc, false);
            for (int size : new int[] {5, 12}) { // GEMV (up to 8 rows) and GEMM
                int[] batch = Arrays.copyOfRange(ref.tokens(), cc.length(), cc.length() + size);
                float[][] cpu = p.cpu().forward(batch, cc, true), gpu = p.gpu().forward(batch, gc, true);
                assertEquals(size, gpu.length);
                for (int r = 0; r < size; r++) {
                    float d = maxDifference(cpu[r], gpu[r]);
                    assertTrue(d <= p.tolerance(), "batch of " + size + ", row " + r + ": logits differ by " + d);
                }
            }
            assertEquals(cc.length(), gc.length());
        }
    }

    @Test
    void aRecordedStepReplayedGivesExactlyWhatDirectLaunchesGive() {
        try (Pair p = open(TestFiles.model("stories260K-q4_0.gguf"), false)) {
            int[] prompt = {1, 403, 407, 261, 378, 432, 383, 271, 260, 322};
            KvCache replayed = p.gpu().newCache(64, KvCache.Precision.F16), direct = p.gpu().newCache(64, KvCache.Precision.F16);
            float[] a = p.gpu().forward(prompt, replayed, false)[0], b = p.gpu().forward(prompt, direct, false)[0];
            p.gpu().resetTiming();
            for (int i = 0; i < 16; i++) {
                int next = Sampler.argmax(a);
                p.gpu().decodeWithGraphs(true);
                a = p.gpu().forward(new int[] {next}, replayed, false)[0];
                p.gpu().decodeWithGraphs(false);
                b = p.gpu().forward(new int[] {next}, direct, false)[0];
                // Bit for bit: the same kernels on the same data (a kernel that sums in a racing order fails here).
                assertArrayEquals(b, a, 0f, "step " + i);
            }
            assertEquals(16, p.gpu().timedSteps(), "every replay timed");
            assertTrue(p.gpu().gpuMillis() >= 0);
        }
    }

    @Test
    void weightsReadFromTheMappedFileGiveExactlyWhatUploadedOnesGive() {
        CudaLibrary lib = library();
        org.junit.jupiter.api.Assumptions.assumeTrue(lib.device(0).canMapHostMemory(), "device 0 cannot map host memory");
        // Both residencies asked for explicitly: on an integrated GPU (Jetson) the default is MAPPED too.
        try (Pair p = open(TestFiles.model("stories260K-q4_0.gguf"), false);
             CudaTransformer uploaded = new CudaTransformer(lib, 0, p.config(), new ModelWeights(p.file(), p.config()), false,
                     dev.specula.backend.cuda.WeightResidency.UPLOAD);
             CudaTransformer mapped = new CudaTransformer(lib, 0, p.config(), new ModelWeights(p.file(), p.config()), false,
                     dev.specula.backend.cuda.WeightResidency.MAPPED)) {
            assertEquals(dev.specula.backend.cuda.WeightResidency.UPLOAD, uploaded.weightResidency());
            assertEquals(dev.specula.backend.cuda.WeightResidency.MAPPED, mapped.weightResidency());
            assertTrue(mapped.weightBytes() < uploaded.weightBytes() / 10, "only norms are copied");
            int[] prompt = {1, 403, 407, 261, 378, 432, 383, 271, 260, 322};
            KvCache a = uploaded.newCache(32, KvCache.Precision.F16), b = mapped.newCache(32, KvCache.Precision.F16);
            float[] x = uploaded.forward(prompt, a, false)[0], y = mapped.forward(prompt, b, false)[0];
            assertArrayEquals(x, y, 0f, "prefill");
            for (int i = 0; i < 8; i++) {
                int next = Sampler.argmax(x);
                x = uploaded.forward(new int[] {next}, a, false)[0];
                y = mapped.forward(new int[] {next}, b, false)[0];
                assertArrayEquals(x, y, 0f, "step " + i);
            }
        }
    }

    @Test
    void speculativeDecodingOnTheDeviceWritesTheTargetsGreedyText() {
        Path target = TestFiles.model("stories260K.gguf"), draftFile = TestFiles.model("stories260K-draft-4layer-f32.gguf");
        try (Pair t = open(target, false); Pair d = open(draftFile, false)) {
            int[] prompt = {1, 403, 407, 261, 378};
            Generator plain = new Generator(t.gpu(), t.gpu().newCache(128, KvCache.Precision.F16), 512);
            plain.setSequence(prompt);
            int[] expected = plain.generate(new Sampler(SamplingParams.greedy()), 40, x -> false, x -> {});
            ModelDraft draft = new ModelDraft(d.gpu(), d.gpu().newCache(128, KvCache.Precision.F16), SamplingParams.greedy(), 0f);
            SpeculativeDecoder s = new SpeculativeDecoder(t.gpu(), t.gpu().newCache(128, KvCache.Precision.F16), 512, draft,
                    new SpeculativeDecoder.Options(6, 0, false));
            s.setSequence(prompt);
            int[] got = s.generate(new Sampler(SamplingParams.greedy()), 40, x -> false, x -> {});
            assertTrue(s.draftAccepted > 0, "the draft was accepted sometimes");
            // Verification batches run the same kernels as single steps, but over other row counts
            // (GEMV up to 8 rows): the texts may part only where the plain run had a near-tie.
            KvCache check = t.gpu().newCache(128, KvCache.Precision.F16);
            float[] logits = t.gpu().forward(prompt, check, false)[0];
            for (int i = 0; i < expected.length; i++) {
                if (expected[i] != got[i]) {
                    assertTrue(margin(logits) < 2 * t.tolerance(), "token " + i + ": " + got[i] + " instead of " + expected[i]);
                    break;
                }
                logits = t.gpu().forward(new int[] {expected[i]}, check, false)[0];
            }
        }
    }

    /** A random-weight model with head size 64 (what FlashAttention takes) and the shared vocabulary. */
    static Path makeModel(Path dir, String arch, String type) {
        Path out = dir.resolve(arch + "-" + type + ".gguf");
        int rc = new CommandLine(new MakeModel()).execute("-o", out.toString(), "--vocab-from",
                TestFiles.model("stories260K.gguf").toString(), "--arch", arch, "--dim", "128", "--layers", "2", "--heads", "2",
                "--kv-heads", "1", "--ff", "256", "--ctx", "256", "--type", type);
        assertEquals(0, rc, "make-model");
        return out;
    }

    @ParameterizedTest(name = "{0} {1}")
    @org.junit.jupiter.params.provider.CsvSource({"llama, q8_0", "llama, q4_0", "qwen2, q8_0", "qwen3, q8_0", "qwen3, f16"})
    void generatedModelsOfEachArchitectureMatchTheCpuWithAndWithoutFlashAttention(String arch, String type, @TempDir Path dir) {
        library(); // skips before making a model when there is nothing to run it on
        Path model = makeModel(dir, arch, type);
        int[] sequence = new java.util.SplittableRandom(7).ints(40, 0, 512).toArray();
        for (boolean fa : new boolean[] {false, true}) {
            try (Pair p = open(model, fa)) {
                assertEquals(fa, p.gpu().flashAttention(), "head size 64 takes the flash kernel");
                float worst = compareTeacherForced(p, Arrays.copyOf(sequence, 20), sequence, 12);
                System.err.printf(Locale.ROOT, "%s %s fa=%b: largest logit difference %.4f%n", arch, type, fa, worst);
            }
        }
    }
}
