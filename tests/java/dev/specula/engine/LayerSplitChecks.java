package dev.specula.engine;

import static org.junit.jupiter.api.Assertions.*;

import dev.specula.backend.cuda.CudaLibrary;
import dev.specula.backend.cuda.WeightResidency;
import dev.specula.gguf.GgufFile;
import dev.specula.model.ModelConfig;
import dev.specula.model.ModelWeights;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Split by layer (llama.cpp's partial -ngl): layers [0, k) and the embedding on the CPU, layers
 * [k, n) and the output on the GPU. Same logits as the CPU alone over a prompt batch, single-token
 * steps, a truncation (a rejected draft) and the steps after it, within the GPU parity tolerance
 * ({@value CudaParityChecks#FLOAT_TOLERANCE}). Run on the host emulation of specula.h
 * ({@link LayerSplitTest}) and on a real GPU ({@link LayerSplitGpuTest}).
 */
abstract class LayerSplitChecks {
    abstract CudaLibrary library();

    static final int LAYERS = 4, STEPS = 6;

    static Path denseModel(Path dir) {
        Path dense = dir.resolve("dense4.gguf");
        var cl = new picocli.CommandLine(new dev.specula.tools.MakeModel());
        cl.setOut(new java.io.PrintWriter(new java.io.StringWriter()));
        assertEquals(0, cl.execute("-o", dense.toString(), "--arch", "qwen3", "--dim", "64", "--layers", String.valueOf(LAYERS), "--heads", "4",
                "--kv-heads", "2", "--ff", "96", "--vocab-size", "384", "--type", "f32", "--threads", "1"));
        return dense;
    }

    /** k = 1 and 2 (the middle), k = n - 1 (-ngl 2: one layer and the output), k = n (-ngl 1: the output alone). */
    @ParameterizedTest
    @ValueSource(ints = {1, 2, LAYERS - 1, LAYERS})
    void theFirstLayersOnTheCpuAndTheRestOnTheGpuGiveTheCpusLogits(int cpuLayers, @TempDir Path dir) {
        compare(denseModel(dir), cpuLayers, new boolean[LAYERS], true);
    }

    /** A layer split of a mixture of experts whose GPU layers keep their experts on the CPU (-ngl with --cpu-moe). */
    @Test
    void aMixtureOfExpertsSplitByLayerWithItsGpuLayersExpertsOnTheCpu(@TempDir Path dir) {
        compare(MoeReferenceTest.make(dir.resolve("qwen3moe-tiny.gguf"), "qwen3moe-tiny"), 1, new boolean[] {true, true}, false);
    }

    @Test
    void theCachesPartsStayInStepAndForeignCachesAreRefused(@TempDir Path dir) {
        Path file = denseModel(dir);
        try (GgufFile f = GgufFile.open(file)) {
            ModelConfig c = ModelConfig.from(f);
            ModelWeights w = new ModelWeights(f, c);
            try (LayerSplitTransformer split = new LayerSplitTransformer(library(), 0, c, w, false, WeightResidency.UPLOAD, 2, new boolean[LAYERS], 1);
                 CpuTransformer cpu = new CpuTransformer(c, w, 1, false)) {
                var cache = (LayerSplitTransformer.SplitCache) split.newCache(16, KvCache.Precision.F16);
                split.forward(new int[] {1, 2, 3}, cache, false);
                assertEquals(3, cache.length());
                assertEquals(3, cache.host.length());
                assertEquals(3, cache.device.length());
                cache.truncate(1);
                assertEquals(1, cache.host.length());
                assertEquals(1, cache.device.length());
                var full = assertThrows(IllegalStateException.class, () -> split.forward(new int[16], cache, false));
                assertTrue(full.getMessage().startsWith("context size 16 exceeded"), full.getMessage());
                assertEquals(1, cache.device.length(), "a refused step leaves both parts as they were");
                assertThrows(IllegalArgumentException.class, () -> split.forward(new int[] {1}, cpu.newCache(16, KvCache.Precision.F16), false));
                assertThrows(IllegalArgumentException.class, () -> split.newCache(16, KvCache.Precision.F32));
            }
        }
    }

    void compare(Path file, int cpuLayers, boolean[] hostFeedForward, boolean graphs) {
        try (GgufFile f = GgufFile.open(file)) {
            ModelConfig c = ModelConfig.from(f);
            ModelWeights w = new ModelWeights(f, c);
            try (CpuTransformer cpu = new CpuTransformer(c, w, 1, false);
                 LayerSplitTransformer split = new LayerSplitTransformer(library(), 0, c, w, false, WeightResidency.UPLOAD, cpuLayers, hostFeedForward, 1)) {
                int[] prompt = {1, 40, 77, 150, 201, 99, 300, 12, 5, 260, 33, 18};
                KvCache a = cpu.newCache(64, KvCache.Precision.F16), b = split.newCache(64, KvCache.Precision.F16);
                float[][] x = cpu.forward(prompt, a, true), y = split.forward(prompt, b, true);
                float worst = 0;
                for (int r = 0; r < prompt.length; r++) worst = check(x[r], y[r], "batch row " + r, worst);
                int token = 7;
                for (int i = 0; i < 2 * STEPS; i++) {
                    if (i == STEPS) { // a rejected draft: both roll back, then go on from there
                        a.truncate(prompt.length + 2);
                        b.truncate(prompt.length + 2);
                        worst = check(cpu.forward(new int[] {9, 10, 11}, a, true)[2], split.forward(new int[] {9, 10, 11}, b, true)[2], "after truncation", worst);
                    }
                    worst = check(cpu.forward(new int[] {token}, a, false)[0], split.forward(new int[] {token}, b, false)[0], "step " + i, worst);
                    token = (token * 31 + 11) % c.vocabSize();
                }
                assertEquals(a.length(), b.length());
                if (graphs) assertEquals(2 * STEPS, split.gpu().timedSteps(), "the GPU's part of each step is one graph replay");
                else assertEquals(0, split.gpu().timedSteps(), "a step with host feed-forward is queued");
                System.out.printf("%s layers [0,%d) on the CPU: max |logit - CPU| = %.2e%n", file.getFileName(), cpuLayers, worst);
            }
        }
    }

    private static float check(float[] expected, float[] actual, String what, float worst) {
        float d = CudaParityChecks.maxDifference(expected, actual);
        assertTrue(d <= CudaParityChecks.FLOAT_TOLERANCE, what + ": logits differ by " + d);
        return Math.max(worst, d);
    }
}
