package dev.specula.placement;

import dev.specula.model.ModelConfig;
import dev.specula.model.RopeScaling;
import java.util.ArrayList;
import java.util.List;

/** Models described by their tensor names and sizes alone (as make-model names them), for plans of any size without a file. */
final class ModelShapes {
    private ModelShapes() {}

    /** Bytes of a Q4_0 matrix: 18 bytes per 32 weights. */
    static long q4(long cols, long rows) {
        return cols / 32 * 18 * rows;
    }

    record Shape(ModelConfig config, List<PlacementPlan.TensorSize> tensors) {}

    /** Qwen3-30B-A3B's shapes (48 layers, 128 experts, top 8), Q4_0, F32 norms and routers. */
    static Shape qwen3Moe30b() {
        return moe("qwen3moe", 2048, 48, 32, 4, 128, 768, 128, 8, 151936);
    }

    static Shape moe(String arch, int dim, int layers, int heads, int kvHeads, int headDim, int expertFf, int experts, int used, int vocab) {
        ModelConfig c = new ModelConfig(arch, dim, 0, layers, heads, kvHeads, headDim, vocab, 40960, 1e-6f, 1e6f,
                RopeScaling.none(40960), headDim, true, false, true, false, new ModelConfig.Moe(experts, used, expertFf, 0, true));
        List<PlacementPlan.TensorSize> t = new ArrayList<>();
        int q = heads * headDim, kv = kvHeads * headDim;
        t.add(new PlacementPlan.TensorSize("token_embd.weight", q4(dim, vocab)));
        for (int i = 0; i < layers; i++) {
            String p = "blk." + i + ".";
            t.add(new PlacementPlan.TensorSize(p + "attn_norm.weight", 4L * dim));
            t.add(new PlacementPlan.TensorSize(p + "attn_q.weight", q4(dim, q)));
            t.add(new PlacementPlan.TensorSize(p + "attn_k.weight", q4(dim, kv)));
            t.add(new PlacementPlan.TensorSize(p + "attn_v.weight", q4(dim, kv)));
            t.add(new PlacementPlan.TensorSize(p + "attn_q_norm.weight", 4L * headDim));
            t.add(new PlacementPlan.TensorSize(p + "attn_k_norm.weight", 4L * headDim));
            t.add(new PlacementPlan.TensorSize(p + "attn_output.weight", q4(q, dim)));
            t.add(new PlacementPlan.TensorSize(p + "ffn_norm.weight", 4L * dim));
            t.add(new PlacementPlan.TensorSize(p + "ffn_gate_inp.weight", 4L * dim * experts));
            t.add(new PlacementPlan.TensorSize(p + "ffn_gate_exps.weight", q4(dim, expertFf) * experts));
            t.add(new PlacementPlan.TensorSize(p + "ffn_up_exps.weight", q4(dim, expertFf) * experts));
            t.add(new PlacementPlan.TensorSize(p + "ffn_down_exps.weight", q4(expertFf, dim) * experts));
        }
        t.add(new PlacementPlan.TensorSize("output_norm.weight", 4L * dim));
        t.add(new PlacementPlan.TensorSize("output.weight", q4(dim, vocab)));
        return new Shape(c, t);
    }

    /** A dense llama of {@code layers} layers (dim 4096, ff 14336, 32/8 heads: Llama-3-8B's), Q4_0. */
    static Shape llama8b(int layers) {
        int dim = 4096, ff = 14336, vocab = 128256, kv = 1024;
        ModelConfig c = new ModelConfig("llama", dim, ff, layers, 32, 8, 128, vocab, 8192, 1e-5f, 5e5f,
                RopeScaling.none(8192), 128, false, false, false, false, null);
        List<PlacementPlan.TensorSize> t = new ArrayList<>();
        t.add(new PlacementPlan.TensorSize("token_embd.weight", q4(dim, vocab)));
        for (int i = 0; i < layers; i++) {
            String p = "blk." + i + ".";
            t.add(new PlacementPlan.TensorSize(p + "attn_norm.weight", 4L * dim));
            t.add(new PlacementPlan.TensorSize(p + "attn_q.weight", q4(dim, dim)));
            t.add(new PlacementPlan.TensorSize(p + "attn_k.weight", q4(dim, kv)));
            t.add(new PlacementPlan.TensorSize(p + "attn_v.weight", q4(dim, kv)));
            t.add(new PlacementPlan.TensorSize(p + "attn_output.weight", q4(dim, dim)));
            t.add(new PlacementPlan.TensorSize(p + "ffn_norm.weight", 4L * dim));
            t.add(new PlacementPlan.TensorSize(p + "ffn_gate.weight", q4(dim, ff)));
            t.add(new PlacementPlan.TensorSize(p + "ffn_up.weight", q4(dim, ff)));
            t.add(new PlacementPlan.TensorSize(p + "ffn_down.weight", q4(ff, dim)));
        }
        t.add(new PlacementPlan.TensorSize("output_norm.weight", 4L * dim));
        t.add(new PlacementPlan.TensorSize("output.weight", q4(dim, vocab)));
        return new Shape(c, t);
    }

    /** The same model with its output tied to the embedding (no output.weight). */
    static Shape tied(Shape s) {
        ModelConfig c = s.config();
        ModelConfig t = new ModelConfig(c.architecture(), c.embeddingLength(), c.feedForwardLength(), c.blockCount(), c.headCount(),
                c.headCountKv(), c.headDim(), c.vocabSize(), c.contextLength(), c.rmsEps(), c.ropeFreqBase(), c.ropeScaling(),
                c.ropeDims(), c.ropeNeox(), c.qkvBias(), c.qkNorm(), true, c.moe());
        return new Shape(t, s.tensors().stream().filter(x -> !x.name().equals("output.weight")).toList());
    }
}
