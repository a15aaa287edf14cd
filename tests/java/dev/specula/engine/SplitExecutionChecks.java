package dev.specula.engine;

import static org.junit.jupiter.api.Assertions.*;

import dev.specula.backend.cuda.WeightResidency;
import dev.specula.gguf.GgufFile;
import dev.specula.model.ModelConfig;
import dev.specula.model.ModelWeights;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Split execution: attention, norms, KV cache and output on the GPU, the feed-forward of chosen
 * layers on the CPU, with activation copies at the boundaries. Same logits as the CPU alone
 * through a batch and single-token steps (within the GPU parity tolerance for float weights,
 * {@value CudaParityChecks#FLOAT_TOLERANCE}). Run on the host emulation of specula.h
 * ({@link SplitExecutionTest}) and on a real GPU ({@link SplitExecutionGpuTest}).
 */
abstract class SplitExecutionChecks {
    abstract dev.specula.backend.cuda.CudaLibrary library();

    static final int STEPS = 8;

    @ParameterizedTest
    @ValueSource(strings = {"qwen3moe-tiny", "qwen2moe-tiny", "mixtral-tiny"})
    void expertsOnTheCpuAndTheRestOnTheGpuGiveTheCpusLogits(String preset, @TempDir Path dir) {
        Path file = MoeReferenceTest.make(dir.resolve(preset + ".gguf"), preset);
        compare(file, new boolean[] {true, true});
    }

    @ParameterizedTest
    @ValueSource(strings = {"1,0", "0,1", "1,1"})
    void aDenseModelsFeedForwardOnTheCpuForSomeLayersGivesTheCpusLogits(String layers, @TempDir Path dir) {
        Path dense = dir.resolve("dense.gguf");
        var cl = new picocli.CommandLine(new dev.specula.tools.MakeModel());
        cl.setOut(new java.io.PrintWriter(new java.io.StringWriter()));
        assertEquals(0, cl.execute("-o", dense.toString(), "--arch", "qwen3", "--dim", "64", "--layers", "2", "--heads", "4",
                "--kv-heads", "2", "--ff", "96", "--vocab-size", "384", "--type", "f32", "--threads", "1"));
        String[] bits = layers.split(",");
        compare(dense, new boolean[] {bits[0].equals("1"), bits[1].equals("1")});
    }

    void compare(Path file, boolean[] hostFeedForward) {
        try (GgufFile f = GgufFile.open(file)) {
            ModelConfig c = ModelConfig.from(f);
            ModelWeights w = new ModelWeights(f, c);
            try (CpuTransformer cpu = new CpuTransformer(c, w, 1, false);
                 CudaTransformer gpu = new CudaTransformer(library(), 0, c, w, false, WeightResidency.UPLOAD, hostFeedForward, 1)) {
                assertTrue(gpu.split());
                int[] prompt = {1, 40, 77, 150, 201, 99, 300, 12, 5, 260, 33, 18};
                KvCache a = cpu.newCache(64, KvCache.Precision.F16), b = gpu.newCache(64, KvCache.Precision.F16);
                float[][] x = cpu.forward(prompt, a, true), y = gpu.forward(prompt, b, true);
                float worst = 0;
                for (int r = 0; r < prompt.length; r++) {
                    float d = CudaParityChecks.maxDifference(x[r], y[r]);
                    worst = Math.max(worst, d);
                    assertTrue(d <= CudaParityChecks.FLOAT_TOLERANCE, "batch row " + r + ": logits differ by " + d);
                }
                int token = 7;
                for (int i = 0; i < STEPS; i++) {
                    float d = CudaParityChecks.maxDifference(cpu.forward(new int[] {token}, a, false)[0], gpu.forward(new int[] {token}, b, false)[0]);
                    assertTrue(d <= CudaParityChecks.FLOAT_TOLERANCE, "step " + i + ": logits differ by " + d);
                    worst = Math.max(worst, d);
                    token = (token * 31 + 11) % c.vocabSize();
                }
                assertEquals(0, gpu.timedSteps(), "a split step is queued, not replayed from a graph");
                System.out.printf("%s split %s: max |logit - CPU| = %.2e%n", file.getFileName(), java.util.Arrays.toString(hostFeedForward), worst);
            }
        }
    }
}
