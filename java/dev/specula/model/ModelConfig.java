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
 * @param ropeScale  linear RoPE scaling factor (positions are divided by it); 1 when none
 * @param qkvBias    attention projections have biases (qwen2)
 * @param qkNorm     per-head RMSNorm on Q and K before RoPE (qwen3)
 */
public record ModelConfig(String architecture, int embeddingLength, int feedForwardLength, int blockCount,
                          int headCount, int headCountKv, int headDim, int vocabSize, int contextLength,
                          float rmsEps, float ropeFreqBase, float ropeScale, int ropeDims, boolean ropeNeox,
                          boolean qkvBias, boolean qkNorm, boolean tiedOutput) {

    /** Architectures the CPU forward pass implements. */
    public static final Set<String> SUPPORTED = Set.of("llama", "qwen2", "qwen3");

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
        String scalingType = m.optString(arch + ".rope.scaling.type").orElse("none");
        float scale = 1f;
        if (scalingType.equals("linear")) scale = m.getFloat(arch + ".rope.scaling.factor", 1f);
        else if (!scalingType.equals("none")) {
            throw new GgufFormatException(file.path(), -1, arch + ".rope.scaling.type '" + scalingType + "' is not supported");
        }
        return new ModelConfig(arch, dim, m.getInt(arch + ".feed_forward_length"), m.getInt(arch + ".block_count"),
                heads, kvHeads, headDim, vocab, m.getInt(arch + ".context_length"),
                m.getFloat(arch + ".attention.layer_norm_rms_epsilon", 1e-5f),
                m.getFloat(arch + ".rope.freq_base", 10000f), scale,
                m.getInt(arch + ".rope.dimension_count", headDim),
                !arch.equals("llama"), arch.equals("qwen2"), arch.equals("qwen3"),
                file.tensor("output.weight") == null);
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
