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
 * products, appends their keys and values to the cache and returns logits. {@link #forwardBatch}
 * does the same for several sequences at once, each with its own cache.
 *
 * <p>It may also run only the first layers of a model ({@code endLayer} below the layer count): the
 * CPU segment of a layer split ({@link LayerSplitTransformer}), which embeds the tokens, runs
 * layers [0, endLayer) over a cache of those layers alone and hands on the hidden state
 * ({@link #hidden}); it makes no logits.
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
    /** Layers [0, endLayer) run here; below the layer count, this is a layer split's CPU segment. */
    private final int endLayer;

    public CpuTransformer(ModelConfig config, ModelWeights weights, int threads, boolean flashAttention) {
        this(config, weights, threads, flashAttention, config.blockCount());
    }

    /** Only layers [0, endLayer) (a layer split's CPU segment: {@link #hidden}, no logits, when below the layer count). */
    CpuTransformer(ModelConfig config, ModelWeights weights, int threads, boolean flashAttention, int endLayer) {
        if (endLayer < 0 || endLayer > config.blockCount()) throw new IllegalArgumentException("layer range [0, " + endLayer + ") outside the model's " + config.blockCount() + " layers");
        this.endLayer = endLayer;
        this.c = config;
        this.w = weights;
        this.flash = flashAttention;
        this.team = new ThreadTeam(Math.max(1, threads));
        this.rope = new Rope(config, weights.ropeFreqs);
        embedding = new CpuMatrix(weights.tokenEmbedding);
        output = endLayer == config.blockCount() ? new CpuMatrix(weights.output) : null;
        experts = config.moe() == null ? null : new MixtureOfExperts(config, weights);
        int n = config.blockCount();
        wq = new CpuMatrix[n];
        wk = new CpuMatrix[n];
        wv = new CpuMatrix[n];
        wo = new CpuMatrix[n];
        gate = new CpuMatrix[n];
        up = new CpuMatrix[n];
        down = new CpuMatrix[n];
        for (int i = 0; i < endLayer; i++) {
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
        return new KvCache(c, capacity, precision, 0, endLayer);
    }

    @Override
    public String backendName() {
        return "CPU";
    }

    @Override
    public float[][] forward(int[] tokens, KvCache cache, boolean allLogits) {
        int[] logitRows = new int[allLogits ? tokens.length : 1];
        for (int i = 0; i < logitRows.length; i++) logitRows[i] = allLogits ? i : tokens.length - 1;
        return run(new int[][] {tokens}, new KvCache[] {cache}, logitRows);
    }

    /**
     * Several sequences in one pass (the server's slots): every sequence's rows go through each
     * weight product together, one matrix-matrix product per weight; attention runs per sequence
     * over its own cache. Returns the logits of each sequence's last token.
     */
    @Override
    public float[][] forwardBatch(int[][] tokens, KvCache[] caches) {
        checkBatch(tokens, caches);
        int[] logitRows = new int[tokens.length];
        for (int s = 0, end = 0; s < tokens.length; s++) logitRows[s] = (end += tokens[s].length) - 1;
        return run(tokens, caches, logitRows);
    }

    /** As {@link #forwardBatch}, every position's logits, split back per sequence. */
    @Override
    public float[][][] forwardBatchAllLogits(int[][] tokens, KvCache[] caches) {
        int rows = checkBatch(tokens, caches);
        int[] logitRows = new int[rows];
        for (int i = 0; i < rows; i++) logitRows[i] = i;
        float[][] all = run(tokens, caches, logitRows);
        float[][][] out = new float[tokens.length][][];
        for (int s = 0, at = 0; s < tokens.length; at += tokens[s].length, s++) out[s] = java.util.Arrays.copyOfRange(all, at, at + tokens[s].length);
        return out;
    }

    /** Rows in all; a sequence without tokens and two sequences sharing a cache are errors. */
    private static int checkBatch(int[][] tokens, KvCache[] caches) {
        if (tokens.length != caches.length) throw new IllegalArgumentException(tokens.length + " sequences but " + caches.length + " caches");
        int rows = 0;
        for (int s = 0; s < tokens.length; s++) {
            if (tokens[s].length == 0) throw new IllegalArgumentException("sequence " + s + " has no tokens");
            rows += tokens[s].length;
            for (int o = 0; o < s; o++) if (caches[o] == caches[s]) throw new IllegalArgumentException("sequences " + o + " and " + s + " share a KV cache");
        }
        return rows;
    }

    /**
     * The hidden state after layers [0, endLayer) of one sequence's tokens (tokens x dim, a copy),
     * their keys and values appended to {@code cache}: what a layer split hands the GPU.
     */
    float[][] hidden(int[] tokens, KvCache cache) {
        if (tokens.length == 0) throw new IllegalArgumentException("no tokens to evaluate");
        float[][] x = throughLayers(new int[][] {tokens}, new KvCache[] {cache});
        float[][] out = new float[tokens.length][];
        for (int b = 0; b < out.length; b++) out[b] = x[b].clone();
        return out;
    }

    /** The forward pass over the rows of every sequence, in order; returns the logits of {@code logitRows}. */
    private float[][] run(int[][] tokens, KvCache[] caches, int[] logitRows) {
        if (output == null) throw new IllegalStateException("this CPU transformer runs layers [0, " + endLayer + ") of " + c.blockCount() + " only and makes no logits");
        float[][] x = throughLayers(tokens, caches);
        int dim = c.embeddingLength();
        float[][] normed = new float[logitRows.length][dim];
        for (int i = 0; i < logitRows.length; i++) VectorMath.rmsNorm(x[logitRows[i]], 0, w.outputNorm, normed[i], 0, dim, c.rmsEps());
        float[][] logits = new float[logitRows.length][c.vocabSize()];
        output.multiply(normed, logits, 0, team);
        return logits;
    }

    /** Embeds every sequence's rows and runs them through layers [0, endLayer); returns the hidden state (the shared buffer). */
    private float[][] throughLayers(int[][] tokens, KvCache[] caches) {
        int seqs = tokens.length, dim = c.embeddingLength(), hd = c.headDim();
        int[] first = new int[seqs + 1], start = new int[seqs];
        int longest = 0;
        for (int s = 0; s < seqs; s++) {
            KvCache cache = caches[s];
            if (!cache.onHost()) throw new IllegalArgumentException("the CPU cannot use a KV cache kept in device memory (made by another backend)");
            start[s] = cache.length();
            first[s + 1] = first[s] + tokens[s].length;
            if (start[s] + tokens[s].length > cache.capacity()) {
                throw new IllegalStateException("context size " + cache.capacity() + " exceeded: " + (start[s] + tokens[s].length) + " positions");
            }
            longest = Math.max(longest, start[s] + tokens[s].length);
        }
        int B = first[seqs];
        int[] seqOf = new int[B], pos = new int[B];
        for (int s = 0; s < seqs; s++) {
            for (int b = first[s]; b < first[s + 1]; b++) {
                seqOf[b] = s;
                pos[b] = start[s] + b - first[s];
            }
        }
        Buffers buf = buffers != null && buffers.batch == B ? buffers : (buffers = new Buffers(c, B));
        float[][] x = buf.x, xb = buf.xb, q = buf.q, k = buf.k, v = buf.v, att = buf.att, hg = buf.hg, hu = buf.hu, delta = buf.delta;
        for (int b = 0; b < B; b++) {
            int token = tokens[seqOf[b]][b - first[seqOf[b]]];
            if (token < 0 || token >= c.vocabSize()) throw new IllegalArgumentException("token id " + token + " out of range");
            embedding.row(token, x[b], 0);
        }
        // Each sequence's rows, as the attention kernels take them (views of the shared buffers).
        float[][][] qOf = new float[seqs][][], attOf = new float[seqs][][];
        for (int s = 0; s < seqs; s++) {
            qOf[s] = java.util.Arrays.copyOfRange(q, first[s], first[s + 1]);
            attOf[s] = java.util.Arrays.copyOfRange(att, first[s], first[s + 1]);
        }
        long attentionMacs = 0;
        for (int s = 0; s < seqs; s++) attentionMacs += (long) (start[s] + tokens[s].length) * tokens[s].length * c.qDim();
        int scratch = Attention.plainScratch(c, longest), kvHeads = c.headCountKv();
        for (int li = 0; li < endLayer; li++) {
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
                rope.apply(q[b], 0, c.headCount(), hd, pos[b]);
                rope.apply(k[b], 0, c.headCountKv(), hd, pos[b]);
                caches[seqOf[b]].store(li, pos[b], k[b], 0, v[b], 0);
            }
            final int layer = li;
            // One task per (sequence, KV head): each sequence attends over its own cache.
            ThreadTeam.Range heads = (worker, from, to) -> {
                for (int task = from; task < to; task++) {
                    int s = task / kvHeads, h = task % kvHeads;
                    if (flash) Attention.flash(c, caches[s], layer, h, qOf[s], attOf[s], start[s]);
                    else Attention.plain(c, caches[s], layer, h, qOf[s], attOf[s], start[s], team.scratch(worker, scratch));
                }
            };
            // Attention over a short context is cheaper than waking the team.
            if (attentionMacs < CpuMatrix.PARALLEL_MIN_MACS) heads.run(0, 0, seqs * kvHeads);
            else team.parallelFor(seqs * kvHeads, 1, heads);
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
        for (int s = 0; s < seqs; s++) caches[s].extend(start[s] + tokens[s].length);
        return x;
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
