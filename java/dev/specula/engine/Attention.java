package dev.specula.engine;

import dev.specula.backend.cpu.VectorMath;
import dev.specula.model.ModelConfig;

/**
 * Causal grouped-query attention of a batch of queries over the KV cache, in two forms that give
 * the same result within float rounding: {@link #plain} materialises each query's score row, and
 * {@link #flash} walks the cache in tiles with an online softmax (FlashAttention), never holding
 * more than one tile of scores, and reads each tile once for all queries sharing its KV head.
 */
final class Attention {
    /** Cache positions per FlashAttention tile. */
    static final int FLASH_TILE = 64;

    private Attention() {}

    /** Floats of scratch {@link #plain} needs for a context of n positions. */
    static int plainScratch(ModelConfig c, int n) {
        return Math.addExact(Math.multiplyExact(2 * n, c.headDim()), n);
    }

    /**
     * q[b] holds the query heads of batch entry b (at position startPos + b); out[b] receives the
     * attention output. Work is split over KV heads, {@code kvHead} selects the one to do. Keys,
     * values and scores go in {@code scratch} (at least {@link #plainScratch} floats).
     */
    static void plain(ModelConfig c, KvCache cache, int layer, int kvHead, float[][] q, float[][] out, int startPos, float[] scratch) {
        int hd = c.headDim(), group = c.groupSize();
        int n = startPos + q.length;
        float[] keys = scratch, values = scratch, scores = scratch;
        int vOff = n * hd, sOff = 2 * n * hd;
        cache.readKeys(layer, 0, n, kvHead * hd, hd, keys);
        cache.readValues(layer, 0, n, kvHead * hd, hd, values, vOff);
        float scale = (float) (1.0 / Math.sqrt(hd));
        boolean half = cache.precision() == KvCache.Precision.F16;
        float[] qh = new float[hd];
        for (int b = 0; b < q.length; b++) {
            int visible = startPos + b + 1;
            for (int g = 0; g < group; g++) {
                int qOff = (kvHead * group + g) * hd;
                float[] query = queryRow(q[b], qOff, hd, half, qh);
                int qAt = half ? 0 : qOff;
                float max = Float.NEGATIVE_INFINITY;
                for (int t = 0; t < visible; t++) {
                    scores[sOff + t] = VectorMath.dot(query, qAt, keys, t * hd, hd) * scale;
                    max = Math.max(max, scores[sOff + t]);
                }
                float sum = VectorMath.expSubtract(scores, sOff, visible, max);
                java.util.Arrays.fill(out[b], qOff, qOff + hd, 0f);
                for (int t = 0; t < visible; t++) {
                    float p = scores[sOff + t] / sum;
                    VectorMath.axpy(half ? roundToHalf(p) : p, values, vOff + t * hd, out[b], qOff, hd);
                }
            }
        }
    }

    /**
     * The query row to multiply with the keys. With an F16 cache it is rounded to F16 first, and
     * (in {@link #plain}) so are the attention weights before they multiply the values: llama.cpp
     * multiplies F16 tensors with operands converted to F16, and Specula's F16 cache computes the
     * same products.
     */
    private static float[] queryRow(float[] q, int qOff, int hd, boolean half, float[] scratch) {
        if (!half) return q;
        for (int i = 0; i < hd; i++) scratch[i] = roundToHalf(q[qOff + i]);
        return scratch;
    }

    private static float roundToHalf(float v) {
        return Float.float16ToFloat(Float.floatToFloat16(v));
    }

    static void flash(ModelConfig c, KvCache cache, int layer, int kvHead, float[][] q, float[][] out, int startPos) {
        int hd = c.headDim(), group = c.groupSize(), rowsQ = q.length * group;
        int n = startPos + q.length;
        float scale = (float) (1.0 / Math.sqrt(hd));
        float[] m = new float[rowsQ], l = new float[rowsQ];
        java.util.Arrays.fill(m, Float.NEGATIVE_INFINITY);
        for (int b = 0; b < q.length; b++) {
            for (int g = 0; g < group; g++) {
                int qOff = (kvHead * group + g) * hd;
                java.util.Arrays.fill(out[b], qOff, qOff + hd, 0f);
            }
        }
        float[] keys = new float[FLASH_TILE * hd], values = new float[FLASH_TILE * hd], s = new float[FLASH_TILE];
        boolean half = cache.precision() == KvCache.Precision.F16;
        float[] qh = new float[hd];
        for (int tile = 0; tile < n; tile += FLASH_TILE) {
            int len = Math.min(FLASH_TILE, n - tile);
            cache.readKeys(layer, tile, len, kvHead * hd, hd, keys);
            cache.readValues(layer, tile, len, kvHead * hd, hd, values);
            // Queries before this tile's first position see none of it (causal mask): skip them.
            int firstB = Math.max(0, tile - startPos);
            for (int b = firstB; b < q.length; b++) {
                int visible = Math.min(len, startPos + b + 1 - tile);
                for (int g = 0; g < group; g++) {
                    int row = b * group + g, qOff = (kvHead * group + g) * hd;
                    float tileMax = Float.NEGATIVE_INFINITY;
                    float[] query = queryRow(q[b], qOff, hd, half, qh);
                    int qAt = half ? 0 : qOff;
                    for (int t = 0; t < visible; t++) {
                        s[t] = VectorMath.dot(query, qAt, keys, t * hd, hd) * scale;
                        tileMax = Math.max(tileMax, s[t]);
                    }
                    float newMax = Math.max(m[row], tileMax);
                    float correction = (float) Math.exp(m[row] - newMax);
                    if (correction != 1f) VectorMath.scale(correction, out[b], qOff, hd);
                    float sum = l[row] * correction + VectorMath.expSubtract(s, 0, visible, newMax);
                    for (int t = 0; t < visible; t++) VectorMath.axpy(s[t], values, t * hd, out[b], qOff, hd);
                    m[row] = newMax;
                    l[row] = sum;
                }
            }
        }
        for (int b = 0; b < q.length; b++) {
            for (int g = 0; g < group; g++) {
                int qOff = (kvHead * group + g) * hd;
                VectorMath.scale(1f / l[b * group + g], out[b], qOff, hd);
            }
        }
    }
}
