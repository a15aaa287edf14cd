package dev.specula.model;

import dev.specula.gguf.GgufFile;
import dev.specula.gguf.GgufFormatException;
import dev.specula.gguf.GgufTensor;
import dev.specula.tensor.TensorFormats;

/**
 * The tensors a llama/qwen2/qwen3 (and their mixture-of-experts variants) forward pass reads,
 * looked up by llama.cpp's names and checked against the config's shapes before any is used.
 * Norms and biases are expanded to floats (they are tiny); matrices stay views into the mapped file.
 */
public final class ModelWeights {
    /** A layer; a mixture-of-experts layer has {@code experts} and no dense gate, up, down. */
    public record Layer(float[] attnNorm, GgufTensor wq, GgufTensor wk, GgufTensor wv, GgufTensor wo,
                        float[] bq, float[] bk, float[] bv, float[] qNorm, float[] kNorm,
                        float[] ffnNorm, GgufTensor gate, GgufTensor up, GgufTensor down, Experts experts) {}

    /**
     * A layer's experts: the router {@code ffn_gate_inp} ([dim, experts]), the experts' matrices as
     * 3-D tensors ([cols, rows, experts]: one 2-D matrix per expert, {@link GgufTensor#matrix}), and
     * the shared expert where the architecture has one (qwen2moe), else nulls.
     */
    public record Experts(GgufTensor router, GgufTensor gate, GgufTensor up, GgufTensor down,
                          GgufTensor sharedRouter, GgufTensor sharedGate, GgufTensor sharedUp, GgufTensor sharedDown) {}

    public final GgufTensor tokenEmbedding;
    public final float[] outputNorm;
    /** The output projection; the token embedding itself when the model ties them. */
    public final GgufTensor output;
    public final Layer[] layers;
    /**
     * Llama 3.1-style RoPE frequency factors ({@code rope_freqs.weight}, ropeDims/2 values): base
     * frequency i is divided by factor i (ggml's freq_factors); null when the file has none.
     */
    public final float[] ropeFreqs;

    private final GgufFile file;

    /** The file the matrices are views into (it must stay open while they are used). */
    public GgufFile file() {
        return file;
    }

    public ModelWeights(GgufFile file, ModelConfig c) {
        this.file = file;
        int dim = c.embeddingLength(), ff = c.feedForwardLength();
        tokenEmbedding = matrix("token_embd.weight", dim, c.vocabSize());
        outputNorm = vector("output_norm.weight", dim);
        output = c.tiedOutput() ? tokenEmbedding : matrix("output.weight", dim, c.vocabSize());
        ropeFreqs = file.tensor("rope_freqs.weight") == null ? null : ropeFreqs(c);
        layers = new Layer[c.blockCount()];
        for (int i = 0; i < layers.length; i++) {
            String p = "blk." + i + ".";
            layers[i] = new Layer(vector(p + "attn_norm.weight", dim),
                    matrix(p + "attn_q.weight", dim, c.qDim()), matrix(p + "attn_k.weight", dim, c.kvDim()),
                    matrix(p + "attn_v.weight", dim, c.kvDim()), matrix(p + "attn_output.weight", c.qDim(), dim),
                    c.qkvBias() ? vector(p + "attn_q.bias", c.qDim()) : null,
                    c.qkvBias() ? vector(p + "attn_k.bias", c.kvDim()) : null,
                    c.qkvBias() ? vector(p + "attn_v.bias", c.kvDim()) : null,
                    c.qkNorm() ? vector(p + "attn_q_norm.weight", c.headDim()) : null,
                    c.qkNorm() ? vector(p + "attn_k_norm.weight", c.headDim()) : null,
                    vector(p + "ffn_norm.weight", dim),
                    c.moe() != null ? null : matrix(p + "ffn_gate.weight", dim, ff),
                    c.moe() != null ? null : matrix(p + "ffn_up.weight", dim, ff),
                    c.moe() != null ? null : matrix(p + "ffn_down.weight", ff, dim),
                    c.moe() == null ? null : experts(p, c));
        }
    }

    private Experts experts(String p, ModelConfig c) {
        ModelConfig.Moe moe = c.moe();
        int dim = c.embeddingLength(), n = moe.expertCount(), ff = moe.expertFeedForwardLength(), shared = moe.sharedFeedForwardLength();
        return new Experts(matrix(p + "ffn_gate_inp.weight", dim, n),
                experts(p + "ffn_gate_exps.weight", dim, ff, n), experts(p + "ffn_up_exps.weight", dim, ff, n),
                experts(p + "ffn_down_exps.weight", ff, dim, n),
                shared == 0 ? null : matrix(p + "ffn_gate_inp_shexp.weight", dim, 1),
                shared == 0 ? null : matrix(p + "ffn_gate_shexp.weight", dim, shared),
                shared == 0 ? null : matrix(p + "ffn_up_shexp.weight", dim, shared),
                shared == 0 ? null : matrix(p + "ffn_down_shexp.weight", shared, dim));
    }

    private GgufTensor experts(String name, long cols, long rows, long count) {
        GgufTensor t = require(name);
        if (t.rank() != 3 || t.dim(0) != cols || t.dim(1) != rows || t.dim(2) != count) {
            throw new GgufFormatException(file.path(), t.fileOffset(), "tensor '" + name + "' has shape "
                    + t.shapeString() + ", expected [" + cols + ", " + rows + ", " + count + "] (one matrix per expert)");
        }
        return t;
    }

    private float[] ropeFreqs(ModelConfig c) {
        String name = "rope_freqs.weight";
        GgufTensor t = require(name);
        if (t.rank() != 1 || t.dim(0) != c.ropeDims() / 2) {
            throw new GgufFormatException(file.path(), t.fileOffset(), "tensor '" + name + "' has shape "
                    + t.shapeString() + ", expected [" + c.ropeDims() / 2 + "] (rope dimensions / 2)");
        }
        float[] f = vector(name, c.ropeDims() / 2);
        for (int i = 0; i < f.length; i++) {
            if (!(f[i] > 0f) || Float.isInfinite(f[i])) {
                throw new GgufFormatException(file.path(), t.fileOffset(), "tensor '" + name + "' value " + i + " is "
                        + f[i] + ", expected a positive frequency factor");
            }
        }
        return f;
    }

    private GgufTensor require(String name) {
        GgufTensor t = file.requireTensor(name);
        TensorFormats.of(t); // refuses a type Specula cannot compute with, naming the tensor
        return t;
    }

    private GgufTensor matrix(String name, long cols, long rows) {
        GgufTensor t = require(name);
        if (t.rank() > 2 || t.dim(0) != cols || t.dim(1) != rows) {
            throw new GgufFormatException(file.path(), t.fileOffset(), "tensor '" + name + "' has shape "
                    + t.shapeString() + ", expected [" + cols + ", " + rows + "]");
        }
        return t;
    }

    private float[] vector(String name, long n) {
        GgufTensor t = require(name);
        if (t.elements() != n) {
            throw new GgufFormatException(file.path(), t.fileOffset(), "tensor '" + name + "' has shape "
                    + t.shapeString() + ", expected [" + n + "]");
        }
        return TensorFormats.of(t).dequantize(t.data(), (int) n);
    }
}
