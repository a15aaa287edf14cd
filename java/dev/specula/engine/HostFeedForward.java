package dev.specula.engine;

import dev.specula.backend.cpu.CpuMatrix;
import dev.specula.backend.cpu.ThreadTeam;
import dev.specula.backend.cpu.VectorMath;
import dev.specula.model.ModelConfig;
import dev.specula.model.ModelWeights;

/**
 * The CPU segments of a split step: the feed-forward of the layers whose tensors the placement
 * keeps on the CPU (a mixture of experts: the router, the experts and any shared expert; a dense
 * layer: gate, up and down), computed from the mapped file on the CPU's threads, exactly as
 * {@link CpuTransformer} computes them. The GPU side copies the normed activations down before and
 * the result up after ({@link CudaTransformer}).
 */
final class HostFeedForward implements AutoCloseable {
    private final ModelConfig c;
    private final boolean[] onHost;
    private final ThreadTeam team;
    private final MixtureOfExperts experts;
    private final CpuMatrix[] gate, up, down;

    HostFeedForward(ModelConfig c, ModelWeights w, boolean[] onHost, int threads) {
        this.c = c;
        this.onHost = onHost.clone();
        this.team = new ThreadTeam(Math.max(1, threads));
        this.experts = c.moe() == null ? null : new MixtureOfExperts(c, w);
        int n = c.blockCount();
        gate = new CpuMatrix[n];
        up = new CpuMatrix[n];
        down = new CpuMatrix[n];
        for (int li = 0; li < n; li++) {
            if (!onHost[li] || experts != null) continue;
            gate[li] = new CpuMatrix(w.layers[li].gate());
            up[li] = new CpuMatrix(w.layers[li].up());
            down[li] = new CpuMatrix(w.layers[li].down());
        }
    }

    boolean runs(int layer) {
        return onHost[layer];
    }

    /** out[b] = layer {@code li}'s feed-forward of the normed activations x[b]. */
    void forward(int li, float[][] x, float[][] out) {
        if (experts != null) {
            experts.forward(li, x, out, team);
            return;
        }
        int ff = c.feedForwardLength();
        float[][] hg = new float[x.length][ff], hu = new float[x.length][ff];
        gate[li].multiply(x, hg, 0, team);
        up[li].multiply(x, hu, 0, team);
        for (int b = 0; b < x.length; b++) VectorMath.swiglu(hg[b], hu[b], ff);
        down[li].multiply(hg, out, 0, team);
    }

    @Override
    public void close() {
        team.close();
    }
}
