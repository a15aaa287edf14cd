package dev.specula.model;

/**
 * How RoPE angles are stretched for contexts beyond the training length, resolved from GGUF
 * metadata the way llama.cpp resolves its context parameters (llama-model.cpp load_hparams and
 * llama_context's constructor), so that the engine only has to apply ggml's rope formula.
 *
 * <p>For dimension pair i of d = ropeDims, at position p, with base frequency
 * {@code theta_i = p * base^(-2i/d) / freqFactor_i}: the interpolated angle is
 * {@code freqScale * theta_i}; when {@code extFactor != 0} it is mixed with the unscaled angle by
 * YaRN's ramp, {@code mix_i = (1 - clamp((i - low) / max(0.001, high - low), 0, 1)) * extFactor},
 * {@code angle = interp * (1 - mix) + theta_i * mix}, where low/high are the correction dimensions
 * of {@link #correctionDims}. cos and sin are multiplied by {@link #magnitude()}.
 *
 * @param type            what {@code ARCH.rope.scaling.type} says (none, linear or yarn)
 * @param factor          the context extension factor ({@code ARCH.rope.scaling.factor}); 1 for none
 * @param originalContext the training context YaRN's correction dimensions are computed for
 *                        ({@code ARCH.rope.scaling.original_context_length}, else the model's context)
 * @param extFactor       YaRN extrapolation mix; llama.cpp's default is 1 for yarn and 0 otherwise
 * @param attnFactor      the attention factor handed to the rope op (llama.cpp's cparams.yarn_attn_factor,
 *                        after its mscale correction and {@code ARCH.rope.scaling.attn_factor})
 * @param betaFast        YaRN's fast correction boundary (default 32)
 * @param betaSlow        YaRN's slow correction boundary (default 1)
 */
public record RopeScaling(Type type, float factor, int originalContext, float extFactor, float attnFactor,
                          float betaFast, float betaSlow) {

    public enum Type { NONE, LINEAR, YARN }

    /** Plain RoPE: no scaling at all. */
    public static RopeScaling none(int context) {
        return new RopeScaling(Type.NONE, 1f, context, 0f, 1f, 32f, 1f);
    }

    /** Positions divided by {@code factor}. */
    public static RopeScaling linear(float factor, int context) {
        return new RopeScaling(Type.LINEAR, factor, context, 0f, 1f, 32f, 1f);
    }

    /**
     * YaRN with llama.cpp's defaults: ext_factor 1, beta_fast 32, beta_slow 1, and the attention
     * factor that, combined with ggml's own {@code 1 + 0.1 ln(factor)} magnitude term, makes cos/sin
     * scaled by {@code 1 + 0.1 ln(factor)}.
     */
    public static RopeScaling yarn(float factor, int originalContext) {
        return new RopeScaling(Type.YARN, factor, originalContext, 1f, yarnAttnFactor(factor, 1f, 1f), 32f, 1f);
    }

    /**
     * llama.cpp's attention factor when ext_factor is not 0: get_mscale(factor) / (1 + 0.1 ln factor),
     * which cancels the term ggml multiplies in again, times the model's rope.scaling.attn_factor.
     */
    static float yarnAttnFactor(float factor, float extFactor, float ropeAttnFactor) {
        float attn = 1f;
        if (extFactor != 0f) {
            float mscale = factor <= 1f ? 1f : 0.1f * (float) Math.log(factor) + 1f;
            attn = mscale * (1f / (1f + 0.1f * (float) Math.log(factor)));
        }
        return attn * ropeAttnFactor;
    }

    /** ggml's freq_scale: the factor angles are multiplied by (1 / factor). */
    public float freqScale() {
        return 1f / factor;
    }

    /**
     * The magnitude cos and sin are multiplied by: ggml's mscale, the attention factor times
     * {@code 1 + 0.1 ln(1 / freqScale)} when extFactor is not 0.
     */
    public float magnitude() {
        return extFactor != 0f ? attnFactor * (1f + 0.1f * (float) Math.log(1f / freqScale())) : attnFactor;
    }

    /**
     * YaRN's correction range [low, high] in dimension-pair units, as ggml_rope_yarn_corr_dims: the
     * pair whose wavelength turns {@code beta} times over the original context is
     * {@code d * ln(originalContext / (beta * 2 pi)) / (2 ln base)}; low is floored at 0 from
     * betaFast, high ceiled at d - 1 from betaSlow.
     */
    public float[] correctionDims(int ropeDims, float freqBase) {
        float low = (float) Math.floor(correctionDim(ropeDims, betaFast, freqBase));
        float high = (float) Math.ceil(correctionDim(ropeDims, betaSlow, freqBase));
        return new float[] {Math.max(0f, low), Math.min(ropeDims - 1, high)};
    }

    private float correctionDim(int ropeDims, float beta, float freqBase) {
        return ropeDims * (float) Math.log(originalContext / (beta * 2 * (float) Math.PI)) / (2 * (float) Math.log(freqBase));
    }
}
