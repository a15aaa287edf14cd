package dev.specula.model;

import dev.specula.gguf.GgufFile;
import dev.specula.gguf.GgufFormatException;
import dev.specula.gguf.GgufMetadata;
import dev.specula.gguf.GgufTensor;
import java.util.Set;

/**
 * The hyper-parameters of a decoder-only transformer, read from GGUF metadata
 * ({@code ARCH.embedding_length} and friends) and cross-checked against the tensor shapes.
 *
 * @param ropeNeox   rotate dimension pairs (i, i + d/2) (NEOX: qwen2, qwen3) instead of (2i, 2i+1)
 * @param ropeScaling how RoPE angles are scaled (none, linear or YaRN), resolved as llama.cpp does
 * @param qkvBias    attention projections have biases (qwen2)
 * @param qkNorm     per-head RMSNorm on Q and K before RoPE (qwen3)
 * @param moe        the mixture-of-experts feed-forward (qwen2moe, qwen3moe, llama with experts:
 *                   Mixtral), or null where every layer has one dense feed-forward
 */
public record ModelConfig(String architecture, int embeddingLength, int feedForwardLength, int blockCount,
                          int headCount, int headCountKv, int headDim, int vocabSize, int contextLength,
                          float rmsEps, float ropeFreqBase, RopeScaling ropeScaling, int ropeDims, boolean ropeNeox,
                          boolean qkvBias, boolean qkNorm, boolean tiedOutput, Moe moe) {

    /** Architectures the CPU forward pass implements. */
    public static final Set<String> SUPPORTED = Set.of("llama", "qwen2", "qwen3", "qwen2moe", "qwen3moe");

    /**
     * A mixture-of-experts feed-forward, as llama.cpp builds it (llm_build_moe_ffn): the router
     * ({@code ffn_gate_inp}) scores every expert, a softmax over all of them gives probabilities,
     * the {@code expertsUsed} most probable experts are computed and their outputs summed,
     * weighted by their probabilities, renormalised to sum 1 where {@code normalizeWeights}.
     *
     * @param expertFeedForwardLength hidden size of one expert
     * @param sharedFeedForwardLength hidden size of the always-computed shared expert, gated by
     *                                sigmoid({@code ffn_gate_inp_shexp} . x) (qwen2moe); 0 where there is none
     * @param normalizeWeights        qwen3moe and Mixtral renormalise the chosen experts' weights; qwen2moe does not
     */
    public record Moe(int expertCount, int expertsUsed, int expertFeedForwardLength, int sharedFeedForwardLength,
                      boolean normalizeWeights) {}

    public static ModelConfig from(GgufFile file) {
        GgufMetadata m = file.metadata();
        String arch = m.architecture();
        if (!SUPPORTED.contains(arch)) {
            throw new GgufFormatException(file.path(), -1, "architecture '" + arch + "' is not supported (Specula runs "
                    + String.join(", ", SUPPORTED.stream().sorted().toList()) + ")");
        }
        int dim = m.getInt(arch + ".embedding_length");
        int heads = m.getInt(arch + ".attention.head_count");
        int kvHeads = m.getInt(arch + ".attention.head_count_kv", heads);
        int headDim = m.getInt(arch + ".attention.key_length", heads > 0 ? dim / heads : 0);
        GgufTensor embd = file.requireTensor("token_embd.weight");
        int vocab = (int) embd.dim(1);
        if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0) {
            throw new GgufFormatException(file.path(), -1, arch + ".attention.head_count " + heads
                    + " is not a positive multiple of head_count_kv " + kvHeads);
        }
        if (embd.dim(0) != dim) {
            throw new GgufFormatException(file.path(), embd.fileOffset(), "tensor 'token_embd.weight' has width "
                    + embd.dim(0) + " but " + arch + ".embedding_length is " + dim);
        }
        int context = m.getInt(arch + ".context_length");
        RopeScaling scaling = ropeScaling(file, arch, context);
        Moe moe = moe(file, arch);
        // A dense model needs its feed-forward length; a mixture of experts may give only the experts'.
        int ff = moe == null ? m.getInt(arch + ".feed_forward_length") : m.getInt(arch + ".feed_forward_length", 0);
        return new ModelConfig(arch, dim, ff, m.getInt(arch + ".block_count"),
                heads, kvHeads, headDim, vocab, context,
                m.getFloat(arch + ".attention.layer_norm_rms_epsilon", 1e-5f),
                m.getFloat(arch + ".rope.freq_base", 10000f), scaling,
                m.getInt(arch + ".rope.dimension_count", headDim),
                !arch.equals("llama"), arch.startsWith("qwen2"), arch.startsWith("qwen3"),
                file.tensor("output.weight") == null, moe);
    }

    /**
     * The experts' hyper-parameters with llama.cpp's defaults: an expert's hidden size is
     * {@code expert_feed_forward_length}, else feed_forward_length / expert_used_count for qwen2moe
     * and qwen3moe, and feed_forward_length for llama (Mixtral); qwen2moe's shared expert is
     * {@code expert_shared_feed_forward_length} wide, else feed_forward_length.
     */
    private static Moe moe(GgufFile file, String arch) {
        GgufMetadata m = file.metadata();
        boolean qwenMoe = arch.endsWith("moe");
        int experts = m.getInt(arch + ".expert_count", 0), used = m.getInt(arch + ".expert_used_count", 0);
        if (experts == 0 && !qwenMoe) return null;
        if (experts <= 0 || used <= 0 || used > experts) {
            throw new GgufFormatException(file.path(), -1, arch + ".expert_count " + experts + " and " + arch
                    + ".expert_used_count " + used + ": a mixture of experts needs 0 < expert_used_count <= expert_count");
        }
        int ff = m.getInt(arch + ".feed_forward_length", 0);
        int expertFf = qwenMoe ? m.getInt(arch + ".expert_feed_forward_length", ff / used) : ff;
        int sharedFf = arch.equals("qwen2moe") ? m.getInt(arch + ".expert_shared_feed_forward_length", ff) : 0;
        if (expertFf <= 0 || (arch.equals("qwen2moe") && sharedFf <= 0)) {
            throw new GgufFormatException(file.path(), -1, arch + ": the experts' feed-forward length is " + expertFf
                    + (arch.equals("qwen2moe") ? " and the shared expert's " + sharedFf : "") + "; expected positive lengths");
        }
        return new Moe(experts, used, expertFf, sharedFf, !arch.equals("qwen2moe"));
    }

    /**
     * Reads {@code ARCH.rope.scaling.*} with llama.cpp's defaults and rules: a missing type means
     * linear (a no-op without a factor), the factor falls back to the old {@code rope.scale_linear}
     * key and 0 means 1, type none ignores the factor, YaRN's original context defaults to the
     * model's, ext_factor defaults to 1 for yarn and 0 otherwise, and a non-zero ext_factor replaces
     * the attention factor by YaRN's mscale correction. (llama.cpp reads the yarn_* keys only for
     * some architectures; Specula honours them wherever they are present.)
     */
    private static RopeScaling ropeScaling(GgufFile file, String arch, int context) {
        GgufMetadata m = file.metadata();
        String p = arch + ".rope.scaling.";
        String typeKey = p + "type";
        String typeName = m.optString(typeKey).orElse(null);
        String factorKey = m.contains(p + "factor") || !m.contains(arch + ".rope.scale_linear") ? p + "factor" : arch + ".rope.scale_linear";
        float factor = m.getFloat(factorKey, 0f);
        if (!(factor >= 0f) || Float.isInfinite(factor)) {
            throw new GgufFormatException(file.path(), -1, factorKey + " " + factor + " is not a positive number");
        }
        if (factor == 0f) factor = 1f;
        RopeScaling.Type type;
        if (typeName == null) type = factor == 1f ? RopeScaling.Type.NONE : RopeScaling.Type.LINEAR;
        else {
            type = switch (typeName) {
                case "none" -> RopeScaling.Type.NONE;
                case "linear" -> RopeScaling.Type.LINEAR;
                case "yarn" -> RopeScaling.Type.YARN;
                default -> throw new GgufFormatException(file.path(), -1, typeKey + " '" + typeName
                        + "' is not supported (Specula supports none, linear, yarn)");
            };
        }
        if (type == RopeScaling.Type.NONE) factor = 1f;
        int original = m.getInt(p + "original_context_length", 0);
        if (original <= 0) original = context;
        float ext = m.getFloat(p + "yarn_ext_factor", -1f);
        if (ext < 0f) ext = type == RopeScaling.Type.YARN ? 1f : 0f;
        float ropeAttn = m.getFloat(p + "attn_factor", 1f);
        float attn = ext != 0f ? RopeScaling.yarnAttnFactor(factor, ext, ropeAttn) : m.getFloat(p + "yarn_attn_factor", 1f) * ropeAttn;
        return new RopeScaling(type, factor, original, ext, attn,
                m.getFloat(p + "yarn_beta_fast", 32f), m.getFloat(p + "yarn_beta_slow", 1f));
    }

    /** Query heads that share one key/value head (grouped-query attention). */
    public int groupSize() {
        return headCount / headCountKv;
    }

    public int kvDim() {
        return headCountKv * headDim;
    }

    public int qDim() {
        return headCount * headDim;
    }
}
