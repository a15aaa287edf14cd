package dev.specula.engine;

import dev.specula.backend.cpu.CpuMatrix;
import dev.specula.backend.cpu.ThreadTeam;
import dev.specula.backend.cpu.VectorMath;
import dev.specula.model.ModelConfig;
import dev.specula.model.ModelWeights;
import java.util.Arrays;

/**
 * The mixture-of-experts feed-forward of every layer on the CPU, computed as llama.cpp's
 * llm_build_moe_ffn does: router logits, a softmax over all experts, the top {@code k} by
 * probability, their probabilities as weights (renormalised to sum 1 where the architecture says
 * so, the sum clamped below at F16's smallest normal as llama.cpp does), each chosen expert's
 * SwiGLU feed-forward, and the weighted outputs added in the order of their rank. qwen2moe adds a
 * shared expert gated by sigmoid({@code ffn_gate_inp_shexp} . x).
 *
 * <p>Only the chosen experts are computed, and a batch is grouped by expert: each expert's
 * matrices multiply all the rows that chose it at once, so they are read once per batch however
 * many rows use them. Each expert is a 2-D view of its layer's 3-D tensors, in the file's format.
 *
 * <p>Calls must not overlap (the activation buffers are shared by the layers).
 */
final class MixtureOfExperts {
    /** ggml clamps the sum of the chosen weights below at the smallest normal F16 before dividing by it. */
    static final float MIN_WEIGHT_SUM = 6.103515625e-5f;

    private final ModelConfig.Moe moe;
    private final int dim;
    private final CpuMatrix[] router;
    /** [layer][expert] */
    private final CpuMatrix[][] gate, up, down;
    /** Per layer; null where the architecture has no shared expert. */
    private final CpuMatrix[] sharedRouter, sharedGate, sharedUp, sharedDown;
    private Buffers buffers;
    /** Per layer and expert: feed-forward runs and rows computed since construction (what the tests check). */
    final long[][] runs, rows;

    MixtureOfExperts(ModelConfig c, ModelWeights w) {
        this.moe = c.moe();
        this.dim = c.embeddingLength();
        int layers = c.blockCount(), n = moe.expertCount();
        runs = new long[layers][n];
        rows = new long[layers][n];
        router = new CpuMatrix[layers];
        gate = new CpuMatrix[layers][n];
        up = new CpuMatrix[layers][n];
        down = new CpuMatrix[layers][n];
        boolean shared = moe.sharedFeedForwardLength() > 0;
        sharedRouter = shared ? new CpuMatrix[layers] : null;
        sharedGate = shared ? new CpuMatrix[layers] : null;
        sharedUp = shared ? new CpuMatrix[layers] : null;
        sharedDown = shared ? new CpuMatrix[layers] : null;
        for (int li = 0; li < layers; li++) {
            ModelWeights.Experts e = w.layers[li].experts();
            router[li] = new CpuMatrix(e.router());
            for (int x = 0; x < n; x++) {
                gate[li][x] = new CpuMatrix(e.gate().matrix(x));
                up[li][x] = new CpuMatrix(e.up().matrix(x));
                down[li][x] = new CpuMatrix(e.down().matrix(x));
            }
            if (shared) {
                sharedRouter[li] = new CpuMatrix(e.sharedRouter());
                sharedGate[li] = new CpuMatrix(e.sharedGate());
                sharedUp[li] = new CpuMatrix(e.sharedUp());
                sharedDown[li] = new CpuMatrix(e.sharedDown());
            }
        }
    }

    /** The experts a router chose for one row, most probable first, with their weights. */
    record Route(int[] experts, float[] weights) {}

    /**
     * Routes one row from its router logits: softmax over all experts (max subtracted, sum in
     * double, as ggml's soft_max), the {@code k} most probable (ties to the lower index), their
     * probabilities as weights, renormalised when {@code normalize}.
     */
    static Route route(float[] logits, int k, boolean normalize) {
        int n = logits.length;
        float max = Float.NEGATIVE_INFINITY;
        for (float l : logits) max = Math.max(max, l);
        float[] p = new float[n];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            p[i] = (float) Math.exp(logits[i] - max);
            sum += p[i];
        }
        float inv = (float) (1.0 / sum);
        for (int i = 0; i < n; i++) p[i] *= inv;
        int[] chosen = new int[k];
        float[] weights = new float[k];
        boolean[] taken = new boolean[n];
        for (int s = 0; s < k; s++) {
            int best = -1;
            for (int i = 0; i < n; i++) if (!taken[i] && (best < 0 || p[i] > p[best])) best = i;
            taken[best] = true;
            chosen[s] = best;
            weights[s] = p[best];
        }
        if (normalize) {
            float total = 0;
            for (float x : weights) total += x;
            total = Math.max(total, MIN_WEIGHT_SUM);
            for (int s = 0; s < k; s++) weights[s] /= total;
        }
        return new Route(chosen, weights);
    }

    /** out[b] = layer {@code li}'s feed-forward of the normed activations x[b]. */
    void forward(int li, float[][] x, float[][] out, ThreadTeam team) {
        int batch = x.length, k = moe.expertsUsed(), n = moe.expertCount();
        Buffers buf = buffers != null && buffers.batch == batch ? buffers : (buffers = new Buffers(batch));
        router[li].multiply(x, buf.logits, 0, team);
        Route[] routes = new Route[batch];
        int[] rowsOf = new int[n];
        for (int b = 0; b < batch; b++) {
            routes[b] = route(buf.logits[b], k, moe.normalizeWeights());
            for (int e : routes[b].experts()) rowsOf[e]++;
        }
        for (int e = 0; e < n; e++) {
            if (rowsOf[e] == 0) continue;
            // The rows that chose expert e, and where each one's output goes: its slot of that rank.
            float[][] in = new float[rowsOf[e]][], result = new float[rowsOf[e]][];
            int r = 0;
            for (int b = 0; b < batch; b++) {
                int s = rank(routes[b].experts(), e);
                if (s < 0) continue;
                in[r] = x[b];
                result[r++] = buf.expertOut[s][b];
            }
            feedForward(gate[li][e], up[li][e], down[li][e], in, result, buf.hg, buf.hu, team);
            runs[li][e]++;
            rows[li][e] += rowsOf[e];
        }
        for (int b = 0; b < batch; b++) {
            float[] o = out[b], w = routes[b].weights();
            float[] first = buf.expertOut[0][b];
            for (int i = 0; i < dim; i++) o[i] = first[i] * w[0];
            for (int s = 1; s < k; s++) {
                float[] y = buf.expertOut[s][b];
                float ws = w[s];
                for (int i = 0; i < dim; i++) o[i] += y[i] * ws;
            }
        }
        if (sharedRouter != null) addSharedExpert(li, x, out, buf, team);
    }

    /** qwen2moe: out += sigmoid(shared router . x) * the shared expert's feed-forward of x. */
    private void addSharedExpert(int li, float[][] x, float[][] out, Buffers buf, ThreadTeam team) {
        int batch = x.length;
        float[][] gateLogit = new float[batch][1];
        sharedRouter[li].multiply(x, gateLogit, 0, team);
        feedForward(sharedGate[li], sharedUp[li], sharedDown[li], x, buf.shared, buf.sharedHg, buf.sharedHu, team);
        for (int b = 0; b < batch; b++) {
            float g = gateLogit[b][0];
            // llama.cpp's sigmoid here is silu(g) / g (0/0 at 0, where the sigmoid is 1/2).
            float sigmoid = g == 0f ? 0.5f : g / (1f + (float) Math.exp(-g)) / g;
            float[] o = out[b], y = buf.shared[b];
            for (int i = 0; i < dim; i++) o[i] += y[i] * sigmoid;
        }
    }

    /** result[r] = down . (silu(gate . in[r]) * (up . in[r])), with hg/hu rows as the hidden buffers. */
    private static void feedForward(CpuMatrix gate, CpuMatrix up, CpuMatrix down, float[][] in, float[][] result,
                                    float[][] hg, float[][] hu, ThreadTeam team) {
        float[][] g = in.length == hg.length ? hg : Arrays.copyOf(hg, in.length);
        float[][] u = in.length == hu.length ? hu : Arrays.copyOf(hu, in.length);
        gate.multiply(in, g, 0, team);
        up.multiply(in, u, 0, team);
        for (int r = 0; r < in.length; r++) VectorMath.swiglu(g[r], u[r], gate.rows);
        down.multiply(g, result, 0, team);
    }

    private static int rank(int[] experts, int e) {
        for (int s = 0; s < experts.length; s++) if (experts[s] == e) return s;
        return -1;
    }

    /** Activations of the last batch size used, reused while it repeats (decode: always 1). */
    private final class Buffers {
        final int batch;
        final float[][] logits, hg, hu, shared, sharedHg, sharedHu;
        /** [rank][row]: each chosen expert's output, by the rank the router gave it. */
        final float[][][] expertOut;

        Buffers(int batch) {
            this.batch = batch;
            int ff = moe.expertFeedForwardLength(), sff = moe.sharedFeedForwardLength();
            logits = new float[batch][moe.expertCount()];
            hg = new float[batch][ff];
            hu = new float[batch][ff];
            expertOut = new float[moe.expertsUsed()][batch][dim];
            shared = sff > 0 ? new float[batch][dim] : null;
            sharedHg = sff > 0 ? new float[batch][sff] : null;
            sharedHu = sff > 0 ? new float[batch][sff] : null;
        }
    }
}
