package dev.specula.backend.cpu;

import dev.specula.tensor.LaneSum;
import dev.specula.gguf.GgufTensor;
import dev.specula.tensor.IntegerBlocks;
import dev.specula.tensor.TensorFormat;
import java.lang.foreign.MemorySegment;
import java.util.stream.IntStream;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * A weight matrix in small-integer blocks (Q4_0, Q4_1, Q4_K, Q5_0, Q5_1, Q5_K, Q6_K: {@link IntegerBlocks}),
 * repacked at load for integer matrix-vector products with 8-bit activations.
 *
 * <p>Layout: each row is cut into groups of {@value #LANES} consecutive blocks. Within a group the
 * integers are interleaved by position, so one 32-byte load holds position p of all 32 blocks
 * and a 16-bit lane j of the vector kernels follows block j. The activations are quantised to
 * 8 bits per block (scale max|x| / 127, as ggml's Q8_0) and interleaved the same way. A group's
 * dot products then accumulate in 16-bit lanes (one multiply and one add per 32 weights, never
 * overflowing: 4-bit weights give at most 32 × 8 × 127 per lane, 6-bit ones 8 × 32 × 127 before
 * being widened) and are scaled once per block. Four-bit integers are stored as nibbles (position
 * p low, p + half high), five- and six-bit ones as bytes.
 *
 * <p>A row's last group is padded with zero blocks (zero scale, zero integers) when the row is
 * not a whole number of groups. The repacked copy costs memory on top of the mapped file: 0.625
 * bytes per weight for 4-bit formats without bias, 0.75 with, 1.125 for Q5_0, 1.25 for Q5_1,
 * Q5_K and Q6_K, plus the padding.
 */
final class PackedRows {
    /** Blocks per group: the lanes of a 512-bit vector of 16-bit integers. */
    static final int LANES = 32;
    /** A row's last group is padded with zero blocks; at most 1/3 of its blocks may be padding (768 columns of Q4: 24 blocks + 8). */
    private static final int MAX_PADDING_DENOMINATOR = 3;
    /** Set to false ({@code -Dspecula.repack=false}) to keep every matrix in its file format. */
    static final boolean ENABLED = Boolean.parseBoolean(System.getProperty("specula.repack", "true"));

    private static final VectorSpecies<Byte> BYTES = ByteVector.SPECIES_256;
    private static final VectorSpecies<Short> SHORTS = ShortVector.SPECIES_512;
    private static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_512;

    private final IntegerBlocks blocks;
    final int rows, cols, block, groups;
    /** Columns of the packed rows: cols rounded up to whole groups, the padding all zero. */
    final int packedCols;
    private final boolean nibbles;
    /** Bytes of packed integers per group. */
    private final int groupBytes;
    /** A heap array: the JIT hoists array bounds checks out of the loops better than segment checks. */
    private final byte[] ints;
    private final float[] scale, bias;

    private PackedRows(GgufTensor t, IntegerBlocks blocks, int rows, int cols) {
        this.blocks = blocks;
        this.rows = rows;
        this.cols = cols;
        this.block = blocks.blockLength();
        this.groups = Math.ceilDiv(cols / block, LANES);
        this.packedCols = groups * block * LANES;
        this.nibbles = blocks.maxMagnitude() <= 8;
        this.groupBytes = nibbles ? block * LANES / 2 : block * LANES;
        this.ints = new byte[Math.toIntExact((long) rows * groups * groupBytes)];
        int scalesPerRow = groups * LANES;
        this.scale = new float[Math.multiplyExact(rows, scalesPerRow)];
        this.bias = blocks.hasBias() ? new float[scale.length] : null;
        MemorySegment src = t.data();
        IntStream.range(0, rows).parallel().forEach(r -> packRow(src, r));
    }

    /**
     * The repacked form of {@code t}, or null where it does not apply: a format without integer
     * blocks, a row shorter than one group, repacking disabled, or a vector unit narrower than
     * 512 bits (the kernels are written for AVX-512's 32 16-bit lanes).
     */
    static PackedRows of(GgufTensor t, TensorFormat format, int rows, int cols) {
        if (!ENABLED || !(format instanceof IntegerBlocks b) || FloatVector.SPECIES_PREFERRED.vectorBitSize() < 512) return null;
        int len = b.blockLength();
        boolean nibbles = b.maxMagnitude() <= 8;
        // The 16-bit sums must not overflow: see the class comment.
        boolean fits = nibbles ? len * 8 * 127 <= Short.MAX_VALUE && len % 2 == 0 : b.maxMagnitude() <= 32 && len % 8 == 0;
        int blocksPerRow = cols / len, padded = Math.ceilDiv(blocksPerRow, LANES) * LANES;
        if (!fits || cols % len != 0 || (padded - blocksPerRow) * MAX_PADDING_DENOMINATOR > blocksPerRow) return null;
        long bytes = (long) rows * (padded / LANES) * (nibbles ? len * LANES / 2 : len * LANES);
        if (bytes > Integer.MAX_VALUE - 64) return null; // one heap array per matrix
        long scales = (long) rows * (padded / LANES) * LANES * 4L * (b.hasBias() ? 2 : 1);
        if (!heapHolds(bytes + scales)) {
            if (!warnedHeap) {
                warnedHeap = true;
                System.err.println("specula: warning: the Java heap is too small to repack the quantised weights for the fast kernels; "
                        + "matrices that do not fit stay in the file format (slower). Raise it with -Xmx or -XX:MaxRAMPercentage.");
            }
            return null;
        }
        return new PackedRows(t, b, rows, cols);
    }

    private static volatile boolean warnedHeap;
    /** Heap kept free for everything else (activations, KV cache reads, the tokenizer). */
    private static final long HEAP_RESERVE = 256L << 20;

    private static boolean heapHolds(long bytes) {
        Runtime rt = Runtime.getRuntime();
        long used = rt.totalMemory() - rt.freeMemory();
        return rt.maxMemory() - used - HEAP_RESERVE >= bytes;
    }

    private void packRow(MemorySegment src, int r) {
        byte[] q = new byte[packedCols];
        int scalesPerRow = groups * LANES;
        blocks.decode(src, (long) r * cols, cols, q, 0, scale, bias, r * scalesPerRow);
        int base = r * groups * groupBytes;
        int half = block / 2;
        for (int g = 0; g < groups; g++) {
            int at = base + g * groupBytes;
            for (int j = 0; j < LANES && (g * LANES + j) * block < cols; j++) {
                int first = (g * LANES + j) * block;
                if (nibbles) {
                    for (int p = 0; p < half; p++) {
                        int lo = q[first + p] + 8, hi = q[first + p + half] + 8; // 0..15 (q in [-8, 7])
                        ints[Math.toIntExact(at + p * LANES + j)] = (byte) (lo | hi << 4);
                    }
                } else {
                    for (int p = 0; p < block; p++) ints[Math.toIntExact(at + p * LANES + j)] = q[first + p];
                }
            }
        }
    }

    /**
     * Activations rounded to 8 bits as llama.cpp rounds them for these weights
     * ({@link ActivationRounding}: blocks of 32 or 256) and interleaved like the weights, with
     * each weight block's input scale and sum.
     */
    static final class Input {
        final short[] q;
        /** Per block: scale, scale × (sum of q), and -8 × that (the nibble offset's share). */
        final float[] scale, sum, offset;

        Input(PackedRows m, float[] x, ActivationRounding rounding) {
            int block = m.block, n = m.packedCols, cols = m.cols;
            q = new short[n];
            scale = new float[n / block];
            sum = new float[n / block];
            offset = new float[n / block];
            short[] levels = new short[cols];
            float[] d = new float[cols / rounding.block];
            rounding.quantize(x, cols, levels, d);
            for (int b = 0; b < cols / block; b++) {
                int first = b * block, g = b / LANES, j = b % LANES, isum = 0;
                for (int p = 0; p < block; p++) {
                    short v = levels[first + p];
                    q[(g * block + p) * LANES + j] = v;
                    isum += v;
                }
                scale[b] = d[first / rounding.block];
                sum[b] = scale[b] * isum;
                offset[b] = -8 * sum[b];
            }
        }
    }

    /** The dot product of row r's packed columns with {@code in}. */
    float dot(int r, Input in) {
        return nibbles ? dotNibbles(r, in) : dotBytes(r, in);
    }

    private float dotNibbles(int r, Input in) {
        FloatVector acc = FloatVector.zero(FLOATS);
        int base = r * groups * groupBytes;
        int s0 = r * groups * LANES, half = block / 2;
        short[] xq = in.q;
        for (int g = 0; g < groups; g++) {
            int at = base + g * groupBytes;
            int xg = g * block * LANES;
            // Stored nibbles are q + 8, in 0..15: the low and high halves each sum at most
            // 16 × 15 × 127 = 30480 per lane; the 8 × (input block sum) comes off per block below.
            ShortVector lo = ShortVector.zero(SHORTS), hi = lo;
            for (int p = 0; p < half; p++) {
                ShortVector s = (ShortVector) ByteVector.fromArray(BYTES, ints, at + p * LANES)
                        .convertShape(VectorOperators.ZERO_EXTEND_B2S, SHORTS, 0);
                lo = lo.add(s.and((short) 0xF).mul(ShortVector.fromArray(SHORTS, xq, xg + p * LANES)));
                hi = hi.add(s.lanewise(VectorOperators.LSHR, 4).mul(ShortVector.fromArray(SHORTS, xq, xg + (p + half) * LANES)));
            }
            acc = scaleGroup(lo, hi, s0 + g * LANES, g * LANES, in, acc);
        }
        return LaneSum.of(acc);
    }

    private float dotBytes(int r, Input in) {
        FloatVector acc = FloatVector.zero(FLOATS);
        int base = r * groups * groupBytes;
        int s0 = r * groups * LANES;
        short[] xq = in.q;
        for (int g = 0; g < groups; g++) {
            int at = base + g * groupBytes;
            int xg = g * block * LANES;
            // Six-bit integers: at most 8 products per 16-bit lane before widening.
            FloatVector lo = FloatVector.zero(FLOATS), hi = lo;
            for (int p0 = 0; p0 < block; p0 += 8) {
                ShortVector a = ShortVector.zero(SHORTS);
                for (int p = p0; p < p0 + 8; p++) {
                    ShortVector w = (ShortVector) ByteVector.fromArray(BYTES, ints, at + p * LANES)
                            .convertShape(VectorOperators.B2S, SHORTS, 0);
                    a = a.add(w.mul(ShortVector.fromArray(SHORTS, xq, xg + p * LANES)));
                }
                lo = lo.add(a.convertShape(VectorOperators.S2F, FLOATS, 0));
                hi = hi.add(a.convertShape(VectorOperators.S2F, FLOATS, 1));
            }
            int w0 = s0 + g * LANES, x0 = g * LANES;
            acc = lo.fma(FloatVector.fromArray(FLOATS, scale, w0).mul(FloatVector.fromArray(FLOATS, in.scale, x0)), acc);
            acc = hi.fma(FloatVector.fromArray(FLOATS, scale, w0 + 16).mul(FloatVector.fromArray(FLOATS, in.scale, x0 + 16)), acc);
            if (bias != null) {
                acc = FloatVector.fromArray(FLOATS, bias, w0).fma(FloatVector.fromArray(FLOATS, in.sum, x0), acc);
                acc = FloatVector.fromArray(FLOATS, bias, w0 + 16).fma(FloatVector.fromArray(FLOATS, in.sum, x0 + 16), acc);
            }
        }
        return LaneSum.of(acc);
    }

    /**
     * acc + (integer sums of q + 8) × input scale - 8 × input block sum, times the weight scale,
     * [+ weight bias × input block sum], for the 32 blocks of one group.
     */
    private FloatVector scaleGroup(ShortVector lo, ShortVector hi, int w0, int x0, Input in, FloatVector acc) {
        FloatVector f0 = ((FloatVector) lo.convertShape(VectorOperators.S2F, FLOATS, 0)).add(hi.convertShape(VectorOperators.S2F, FLOATS, 0));
        FloatVector f1 = ((FloatVector) lo.convertShape(VectorOperators.S2F, FLOATS, 1)).add(hi.convertShape(VectorOperators.S2F, FLOATS, 1));
        FloatVector v0 = f0.fma(FloatVector.fromArray(FLOATS, in.scale, x0), FloatVector.fromArray(FLOATS, in.offset, x0));
        FloatVector v1 = f1.fma(FloatVector.fromArray(FLOATS, in.scale, x0 + 16), FloatVector.fromArray(FLOATS, in.offset, x0 + 16));
        acc = v0.fma(FloatVector.fromArray(FLOATS, scale, w0), acc);
        acc = v1.fma(FloatVector.fromArray(FLOATS, scale, w0 + 16), acc);
        if (bias != null) {
            acc = FloatVector.fromArray(FLOATS, bias, w0).fma(FloatVector.fromArray(FLOATS, in.sum, x0), acc);
            acc = FloatVector.fromArray(FLOATS, bias, w0 + 16).fma(FloatVector.fromArray(FLOATS, in.sum, x0 + 16), acc);
        }
        return acc;
    }
}
