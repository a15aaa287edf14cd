package dev.specula.tensor;

import dev.specula.gguf.GgmlType;
import dev.specula.gguf.GgufFile;
import dev.specula.gguf.GgufTensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The stories260K model as llama.cpp quantised it (Q8_0, Q4_0) against the F32 original, tensor
 * by tensor and row by row. Tensors llama.cpp kept in F32 (norms; ffn_down, whose rows of 172
 * are not whole blocks) must match exactly.
 *
 * <p>Bounds, relative to the row's largest magnitude M (each block's scale comes from its own
 * largest magnitude, which is at most M): Q8_0 within 0.6 · M/127 (half a step, plus fp16
 * rounding of the scale); Q4_0 within 1.01 · M/8 (a full step at the one level Q4_0 cannot
 * reach, plus fp16 rounding).
 */
class RealModelFilesTest {
    private static final Path MODELS = Path.of("..", "shared", "models");
    private static final Path ORIGINAL = MODELS.resolve("stories260K.gguf");

    @BeforeAll
    static void modelsArePresent() {
        assumeTrue(Files.isRegularFile(ORIGINAL), "skipped: no " + ORIGINAL.toAbsolutePath().normalize()
                + " (the shared test models live next to the repository)");
    }

    static double relativeBound(GgmlType type) {
        return switch (type) {
            case F32 -> 0;
            case Q8_0 -> 0.6 / 127;
            case Q4_0 -> 1.01 / 8;
            default -> throw new AssertionError("the stories260K files hold no " + type);
        };
    }

    @ParameterizedTest
    @ValueSource(strings = {"stories260K-q8_0.gguf", "stories260K-q4_0.gguf"})
    void everyTensorDequantisesCloseToTheF32Original(String file) {
        Path quantised = MODELS.resolve(file);
        assumeTrue(Files.isRegularFile(quantised), "skipped: no " + quantised);
        Random rng = new Random(6000);
        int quantisedTensors = 0;
        try (GgufFile q = GgufFile.open(quantised); GgufFile f32 = GgufFile.open(ORIGINAL)) {
            assertEquals(f32.tensors().size(), q.tensors().size(), "tensor count");
            for (GgufTensor t : q.tensors()) {
                GgufTensor original = f32.tensor(t.name());
                assertNotNull(original, t.name() + " is not in the F32 file");
                assertEquals(GgmlType.F32, original.type());
                assertArrayEquals(original.shape(), t.shape(), t.name());
                TensorFormat format = TensorFormats.of(t);
                assertEquals(t.type().bytesFor(t.elements()), t.byteSize(), t.name() + " byte size");
                if (t.type() != GgmlType.F32) quantisedTensors++;

                int cols = Math.toIntExact(t.dim(0));
                float[] row = new float[cols];
                float[] rowScalar = new float[cols];
                float[] want = new float[cols];
                float[] x = RandomBlocks.gaussians(cols, rng);
                for (long r = 0; r < t.rows(); r++) {
                    String where = file + " " + t.name() + " (" + t.type() + ") row " + r;
                    format.dequantize(t.data(), r * cols, row, 0, cols);
                    format.dequantizeScalar(t.data(), r * cols, rowScalar, 0, cols);
                    TensorFormats.of(original).dequantize(original.data(), r * cols, want, 0, cols);
                    assertArrayEquals(rowScalar, row, where + ": vector and scalar dequantize differ");

                    double maxAbs = 0;
                    double sumAbsX = 0;
                    double wantDot = 0;
                    for (int i = 0; i < cols; i++) {
                        maxAbs = Math.max(maxAbs, Math.abs(want[i]));
                        sumAbsX += Math.abs(x[i]);
                        wantDot += (double) want[i] * x[i];
                    }
                    double bound = relativeBound(t.type()) * maxAbs;
                    for (int i = 0; i < cols; i++) {
                        double error = Math.abs(row[i] - want[i]);
                        if (!(error <= bound)) {
                            throw new AssertionError(where + " col " + i + ": " + row[i] + " vs F32 " + want[i]
                                    + ", error " + error + " > " + bound);
                        }
                    }
                    // Each weight within the bound puts the dot product within bound · sum|x|.
                    double dot = format.dot(t.data(), r * cols, x, 0, cols);
                    assertEquals(wantDot, dot, bound * sumAbsX + 1e-5 * maxAbs * sumAbsX, where + ": dot with random x");
                }
            }
        }
        assertTrue(quantisedTensors > 0, file + " should hold quantised tensors");
    }

    /**
     * Our Q8_0 and Q4_0 quantizers are ggml's reference algorithm: quantising the F32 original
     * reproduces llama.cpp's files byte for byte.
     */
    @ParameterizedTest
    @ValueSource(strings = {"stories260K-q8_0.gguf", "stories260K-q4_0.gguf"})
    void referenceQuantizersReproduceLlamaCppsBytes(String file) {
        Path quantised = MODELS.resolve(file);
        assumeTrue(Files.isRegularFile(quantised), "skipped: no " + quantised);
        try (GgufFile q = GgufFile.open(quantised); GgufFile f32 = GgufFile.open(ORIGINAL)) {
            for (GgufTensor t : q.tensors()) {
                GgufTensor original = f32.tensor(t.name());
                int n = Math.toIntExact(t.elements());
                float[] values = original.data().toArray(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN));
                assertEquals(n, values.length, t.name());
                MemorySegment ours = TensorFormats.of(t).quantize(values);
                byte[] theirs = t.data().toArray(ValueLayout.JAVA_BYTE);
                byte[] mine = ours.toArray(ValueLayout.JAVA_BYTE);
                int blockBytes = t.type().blockBytes;
                for (int i = 0; i < theirs.length; i++) {
                    if (theirs[i] != mine[i]) {
                        throw new AssertionError(file + " " + t.name() + " (" + t.type() + "): block " + i / blockBytes
                                + " differs at byte " + i % blockBytes + ": llama.cpp wrote " + theirs[i] + ", we wrote " + mine[i]);
                    }
                }
            }
        }
    }
}
