package dev.specula.backend.cpu;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.specula.gguf.GgmlType;
import dev.specula.gguf.GgufTensor;
import dev.specula.tensor.TensorFormat;
import dev.specula.tensor.TensorFormats;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The matrix products of the CPU backend against a double-precision reference computed from the
 * scalar dequantisation and the inputs rounded as llama.cpp rounds them: the matrix-vector
 * product (repacked integer kernels where they apply), the register-tiled matrix-matrix product
 * for batches, both on one thread and on a team, over shapes with partial tiles and groups.
 */
class CpuMatrixTest {

    static GgufTensor matrix(GgmlType type, int cols, int rows, Random rng) {
        float[] values = new float[cols * rows];
        for (int i = 0; i < values.length; i++) values[i] = (float) rng.nextGaussian();
        MemorySegment data = TensorFormats.of(type).quantize(values);
        return new GgufTensor("test.weight", type, new long[] {cols, rows}, (long) cols * rows, data.byteSize(), 0, 0, data);
    }

    static float[][] inputs(int batch, int cols, Random rng) {
        float[][] x = new float[batch][cols];
        for (float[] row : x) for (int i = 0; i < cols; i++) row[i] = (float) rng.nextGaussian();
        return x;
    }

    @ParameterizedTest(name = "{0} {1}x{2} batch {3} threads {4}")
    @CsvSource({
        "Q4_0, 1024, 37, 1, 1", "Q4_0, 1088, 70, 1, 2", "Q4_1, 2048, 33, 1, 2", "Q4_K, 1280, 41, 1, 2", "Q4_K, 1536, 41, 1, 2", "Q4_1, 1536, 9, 1, 1",
        "Q6_K, 768, 19, 1, 1", "Q6_K, 1280, 64, 1, 2", "Q4_0, 768, 20, 1, 2", "Q4_K, 768, 5, 1, 1", "Q6_K, 1536, 3, 1, 1", "Q8_0, 1024, 45, 1, 2", "F16, 100, 9, 1, 2", "F32, 96, 130, 1, 2",
        "Q4_0, 1024, 37, 7, 2", "Q4_K, 512, 10, 9, 2", "Q6_K, 256, 4, 4, 1", "Q8_0, 96, 101, 13, 2", "F32, 70, 6, 5, 2",
        "BF16, 64, 66, 3, 2", "Q5_K, 256, 12, 2, 2", "IQ4_XS, 256, 8, 1, 2", "Q5_0, 1024, 21, 1, 2", "Q5_0, 768, 9, 1, 1", "Q5_1, 1024, 11, 1, 2", "Q5_K, 1280, 13, 1, 2", "Q5_K, 768, 5, 1, 1",
    })
    void productsMatchTheScalarReference(GgmlType type, int cols, int rows, int batch, int threads) {
        Random rng = new Random(cols * 31L + rows);
        GgufTensor t = matrix(type, cols, rows, rng);
        TensorFormat f = TensorFormats.of(type);
        float[][] x = inputs(batch, cols, rng);
        float[][] out = new float[batch][rows + 3];
        try (ThreadTeam team = new ThreadTeam(threads)) {
            new CpuMatrix(t).multiply(x, out, 3, team);
        }
        // The reference multiplies with the inputs rounded as llama.cpp rounds them for this type
        // (ActivationRounding, checked against llama.cpp's logits in AllModelsReferenceTest), so
        // only float summation order separates the two.
        ActivationRounding rounding = ActivationRounding.of(type);
        float[][] xr = new float[batch][];
        for (int b = 0; b < batch; b++) xr[b] = rounding.rounded(x[b], cols);
        float[] w = new float[cols];
        for (int r = 0; r < rows; r++) {
            f.dequantizeScalar(t.data(), (long) r * cols, w, 0, cols);
            for (int b = 0; b < batch; b++) {
                double exact = 0, magnitude = 0;
                for (int i = 0; i < cols; i++) {
                    exact += (double) w[i] * xr[b][i];
                    magnitude += Math.abs((double) w[i] * xr[b][i]);
                }
                assertEquals(exact, out[b][3 + r], 1e-5 * magnitude + 1e-6, "row " + r + " input " + b);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"Q8_0, 32", "Q4_K, 256", "IQ4_XS, 256", "Q4_1, 32"})
    void activationsRoundToEightBitsPerBlockAsLlamaCpp(GgmlType type, int block) {
        ActivationRounding r = ActivationRounding.of(type);
        assertEquals(block, r.block);
        Random rng = new Random(3);
        float[] x = new float[512];
        for (int i = 0; i < x.length; i++) x[i] = (float) rng.nextGaussian() * 3;
        float[] rounded = r.rounded(x, x.length);
        for (int b = 0; b < x.length / block; b++) {
            float amax = 0;
            for (int i = b * block; i < (b + 1) * block; i++) amax = Math.max(amax, Math.abs(x[i]));
            java.util.Set<Float> levels = new java.util.HashSet<>();
            for (int i = b * block; i < (b + 1) * block; i++) {
                // Within half a step of the input (plus, for Q8_0, the fp16 rounding of the step,
                // which ggml applies after choosing the level: at most 127 × d × 2^-11), on the
                // block's grid of 255 levels.
                assertEquals(x[i], rounded[i], amax / 127 / 2 + amax * 0x1p-11 + 1e-6, "element " + i);
                levels.add(rounded[i]);
            }
            assertTrue(levels.size() <= 255);
        }
        assertArrayEquals(x, ActivationRounding.NONE.rounded(x, x.length));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"Q4_0", "Q4_1", "Q4_K", "Q6_K", "Q5_0", "Q5_1", "Q5_K"})
    void integerBlockFormatsAreRepackedWhereTheVectorUnitAllows(GgmlType type) {
        assumeTrue(jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 512 && PackedRows.ENABLED,
                "integer kernels need 512-bit vectors; this machine runs the file-format path");
        int block = type == GgmlType.Q6_K ? 16 : 32;
        PackedRows p = PackedRows.of(matrix(type, 1536, 3, new Random(7)), TensorFormats.of(type), 3, 1536);
        assertNotNull(p);
        assertEquals(Math.ceilDiv(1536 / block, 32) * 32 * block, p.packedCols, "rows padded to whole groups of 32 blocks");
        assertNotNull(PackedRows.of(matrix(type, 768, 3, new Random(7)), TensorFormats.of(type), 3, 768), "24 blocks + 8 of padding");
        assertNull(PackedRows.of(matrix(type, 256, 3, new Random(7)), TensorFormats.of(type), 3, 256), "mostly padding: stays in the file format");
    }
}
