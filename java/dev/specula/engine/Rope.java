package dev.specula.engine;

import dev.specula.model.ModelConfig;

/**
 * Rotary position embedding in llama.cpp's two layouts: NORM rotates pairs (2i, 2i+1), NEOX rotates
 * (i, i + d/2). Angle i at position p is p / scale * base^(-2i/d), over the first d = ropeDims
 * dimensions of each head.
 */
final class Rope {
    private final int ropeDims;
    private final boolean neox;
    private final float[] invFreq;
    private final float scale;

    Rope(ModelConfig c) {
        this.ropeDims = c.ropeDims();
        this.neox = c.ropeNeox();
        this.scale = c.ropeScale();
        this.invFreq = new float[ropeDims / 2];
        for (int i = 0; i < invFreq.length; i++) {
            invFreq[i] = (float) Math.pow(c.ropeFreqBase(), -2.0 * i / ropeDims);
        }
    }

    /** Rotates {@code heads} heads of width {@code headDim} stored back to back in x from xOff. */
    void apply(float[] x, int xOff, int heads, int headDim, int pos) {
        int half = ropeDims / 2;
        for (int i = 0; i < half; i++) {
            double theta = pos / scale * invFreq[i];
            float cos = (float) Math.cos(theta), sin = (float) Math.sin(theta);
            int a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
            for (int h = 0; h < heads; h++) {
                int base = xOff + h * headDim;
                float x0 = x[base + a], x1 = x[base + b];
                x[base + a] = x0 * cos - x1 * sin;
                x[base + b] = x0 * sin + x1 * cos;
            }
        }
    }
}
