package dev.specula.engine;

import dev.specula.backend.cpu.CpuMatrix;
import dev.specula.backend.cpu.ThreadTeam;
import dev.specula.backend.cpu.VectorMath;
import dev.specula.model.ModelConfig;
import dev.specula.model.ModelWeights;

/**
 * The llama / qwen2 / qwen3 forward pass on the CPU (and their mixture-of-experts variants:
 * qwen2moe, qwen3moe, Mixtral, whose feed-forward is {@link MixtureOfExperts}), the reference every other backend is checked
 * against. A call takes a batch of tokens at consecutive positions (a prompt chunk, one decode
 * token, or a speculative draft to verify), runs them through the layers as matrix-matrix
 * products, appends their keys and values to the cache and returns logits.
 *
 * <p>It owns a {@link ThreadTeam} of {@code threads} threads (the caller included); close it to
 * stop them. Calls must not overlap.
 */
public final class CpuTransformer implements Transformer {
    private final ModelConfig c;
    private final ModelWeights w;
    private final CpuMatrix embedding, output;
    private final CpuMatrix[] wq, wk, wv, wo, gate, up, down;
    /** The experts of a mixture-of-experts model, or null for a dense one. */
    private final MixtureOfExperts experts;
    private final Rope rope;
    private final ThreadTeam team;
    /** Activation buffers of the last batch size used, reused while it repeats (decode: always 1). */
    private Buffers buffers;
    private final boolean flash;

    public CpuTransformer(ModelConfig config, ModelWeights weights, int threads, boolean flashAttention) {
        this.c = config;
        this.w = weights;
        this.flash = flashAttention;
        this.team = new ThreadTeam(Math.max(1, threads));
        this.rope = new Rope(config, weights.ropeFreqs);
        embedding = new CpuMatrix(weights.tokenEmbedding);
        output = new CpuMatrix(weights.output);
        experts = config.moe() == null ? null : new MixtureOfExperts(config, weights);
        int n = config.blockCount();
        wq = new CpuMatrix[n];
        wk = new CpuMatrix[n];
        wv = new CpuMatrix[n];
        wo = new CpuMatrix[n];
        gate = new CpuMatrix[n];
        up = new CpuMatrix[n];
        down = new CpuMatrix[n];
        for (int i = 0; i < n; i++) {
            ModelWeights.Layer l = weights.layers[i];
            wq[i] = new CpuMatrix(l.wq());
            wk[i] = new CpuMatrix(l.wk());
            wv[i] = new CpuMatrix(l.wv());
            wo[i] = new CpuMatrix(l.wo());
            if (experts != null) continue;
            gate[i] = new CpuMatrix(l.gate());
            up[i] = new CpuMatrix(l.up());
            down[i] = new CpuMatrix(l.down());
        }
    }

    @Override
    public ModelConfig config() {
        return c;
    }

    @Override
    public KvCache newCache(int capacity, KvCache.Precision precision) {
        return new KvCache(c, capacity, precision);
    }

    @Override
    public String backendName() {
        return "CPU";
    }

    @Override
    public float[][] forward(int[] tokens, KvCache cache, boolean allLogits) {
        if (!cache.onHost()) throw new IllegalArgumentException("the CPU cannot use a KV cache kept in device memory (made by another backend)");
        int B = tokens.length, dim = c.embeddingLength(), hd = c.headDim();
        int start = cache.length();
        if (start + B > cache.capacity()) {
            throw new IllegalStateException("context size " + cache.capacity() + " exceeded: " + (start + B) + " positions");
        }
        Buffers buf = buffers != null && buffers.batch == B ? buffers : (buffers = new Buffers(c, B));
        float[][] x = buf.x, xb = buf.xb, q = buf.q, k = buf.k, v = buf.v, att = buf.att, hg = buf.hg, hu = buf.hu, delta = buf.delta;
        for (int b = 0; b < B; b++) {
            if (tokens[b] < 0 || tokens[b] >= c.vocabSize()) throw new IllegalArgumentException("token id " + tokens[b] + " out of range");
            embedding.row(tokens[b], x[b], 0);
        }
        for (int li = 0; li < c.blockCount(); li++) {
            ModelWeights.Layer l = w.layers[li];
            for (int b = 0; b < B; b++) VectorMath.rmsNorm(x[b], 0, l.attnNorm(), xb[b], 0, dim, c.rmsEps());
            wq[li].multiply(xb, q, 0, team);
            wk[li].multiply(xb, k, 0, team);
            wv[li].multiply(xb, v, 0, team);
            for (int b = 0; b < B; b++) {
                if (l.bq() != null) {
                    add(q[b], l.bq());
                    add(k[b], l.bk());
                    add(v[b], l.bv());
                }
                if (l.qNorm() != null) {
                    headNorm(q[b], c.headCount(), l.qNorm());
                    headNorm(k[b], c.headCountKv(), l.kNorm());
                }
                rope.apply(q[b], 0, c.headCount(), hd, start + b);
                rope.apply(k[b], 0, c.headCountKv(), hd, start + b);
                cache.store(li, start + b, k[b], 0, v[b], 0);
            }
            final int layer = li;
            ThreadTeam.Range heads = (worker, from, to) -> {
                for (int h = from; h < to; h++) {
                    if (flash) Attention.flash(c, cache, layer, h, q, att, start);
                    else Attention.plain(c, cache, layer, h, q, att, start, team.scratch(worker, Attention.plainScratch(c, start + B)));
                }
            };
            // Attention over a short context is cheaper than waking the team.
            if ((long) (start + B) * B * c.qDim() < CpuMatrix.PARALLEL_MIN_MACS) heads.run(0, 0, c.headCountKv());
            else team.parallelFor(c.headCountKv(), 1, heads);
            wo[li].multiply(att, delta, 0, team);
            for (int b = 0; b < B; b++) add(x[b], delta[b]);

            for (int b = 0; b < B; b++) VectorMath.rmsNorm(x[b], 0, l.ffnNorm(), xb[b], 0, dim, c.rmsEps());
            if (experts != null) experts.forward(li, xb, delta, team);
            else {
                gate[li].multiply(xb, hg, 0, team);
                up[li].multiply(xb, hu, 0, team);
                for (int b = 0; b < B; b++) VectorMath.swiglu(hg[b], hu[b], c.feedForwardLength());
                down[li].multiply(hg, delta, 0, team);
            }
            for (int b = 0; b < B; b++) add(x[b], delta[b]);
        }
        cache.extend(start + B);
        int first = allLogits ? 0 : B - 1;
        float[][] normed = new float[B - first][dim];
        for (int b = first; b < B; b++) VectorMath.rmsNorm(x[b], 0, w.outputNorm, normed[b - first], 0, dim, c.rmsEps());
        float[][] logits = new float[B - first][c.vocabSize()];
        output.multiply(normed, logits, 0, team);
        return logits;
    }

    /** The experts of a mixture-of-experts model (null for a dense one), for tests of what was computed. */
    MixtureOfExperts experts() {
        return experts;
    }

    @Override
    public void close() {
        team.close();
    }

    private static final class Buffers {
        final int batch;
        final float[][] x, xb, q, k, v, att, hg, hu, delta;

        Buffers(ModelConfig c, int batch) {
            this.batch = batch;
            int dim = c.embeddingLength(), ff = c.moe() == null ? c.feedForwardLength() : 0;
            x = new float[batch][dim];
            xb = new float[batch][dim];
            q = new float[batch][c.qDim()];
            k = new float[batch][c.kvDim()];
            v = new float[batch][c.kvDim()];
            att = new float[batch][c.qDim()];
            hg = new float[batch][ff];
            hu = new float[batch][ff];
            delta = new float[batch][dim];
        }
    }

    private static void add(float[] x, float[] d) {
        VectorMath.axpy(1f, d, 0, x, 0, x.length);
    }

    private void headNorm(float[] x, int heads, float[] weight) {
        int hd = c.headDim();
        for (int h = 0; h < heads; h++) VectorMath.rmsNorm(x, h * hd, weight, x, h * hd, hd, c.rmsEps());
    }
}
