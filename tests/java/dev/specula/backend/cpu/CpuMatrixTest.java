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
 * scalar dequantisation: the matrix-vector product (repacked integer kernels where they apply,
 * with activations quantised to 8 bits), the register-tiled matrix-matrix product for batches,
 * both on one thread and on a team, over shapes with partial tiles and partial groups.
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
        "BF16, 64, 66, 3, 2", "Q5_K, 256, 12, 2, 2", "IQ4_XS, 256, 8, 1, 2",
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
        float[] w = new float[cols];
        for (int r = 0; r < rows; r++) {
            f.dequantizeScalar(t.data(), (long) r * cols, w, 0, cols);
            for (int b = 0; b < batch; b++) {
                double exact = 0, magnitude = 0, quantisation = 0;
                for (int i = 0; i < cols; i++) {
                    exact += (double) w[i] * x[b][i];
                    magnitude += Math.abs((double) w[i] * x[b][i]);
                }
                // A batch of one may use 8-bit activations: each input moves by at most half a step
                // of its block (max |x| / 127 over a block of 16 or 32; 32 bounds both).
                if (batch == 1) {
                    for (int i = 0; i < cols; i++) {
                        int first = i / 32 * 32;
                        float amax = 0;
                        for (int j = first; j < Math.min(cols, first + 32); j++) amax = Math.max(amax, Math.abs(x[b][j]));
                        quantisation += Math.abs(w[i]) * amax / 127 / 2;
                    }
                }
                double tolerance = quantisation * 1.01 + 1e-5 * magnitude + 1e-6;
                assertEquals(exact, out[b][3 + r], tolerance, "row " + r + " input " + b);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"Q4_0", "Q4_1", "Q4_K", "Q6_K"})
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
