package dev.specula.placement;

import dev.specula.gguf.GgufFile;
import dev.specula.gguf.GgufTensor;
import dev.specula.model.ModelConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which device holds each tensor, each layer's KV cache and the working buffers, computed from
 * the file's tensor list and the request before any weight moves, with llama.cpp's rules:
 * <ul>
 *   <li>{@code -ngl N}: the output layer counts as one layer after the repeating ones, and the last
 *       N of those n+1 go to the GPU (llama-model.cpp: {@code i_gpu_start = max(n_layer + 1 - N, 0)}):
 *       {@code -ngl 1} offloads the output alone, {@code -ngl n+1} (or more, or {@code all}) everything.
 *       The token embedding always stays on the CPU (llama.cpp: "very little benefit").
 *   <li>{@code -ot REGEX=DEVICE}: a tensor whose name matches goes there instead; the first match wins.
 *   <li>A layer's KV cache lives with the layer (llama.cpp's offload_kqv default), wherever -ot moves its weights.
 * </ul>
 */
public final class PlacementPlan {
    /** What a tensor is for, as the plan's table groups them. */
    public enum Kind {
        EMBEDDING("token embedding"), ATTENTION("attention"), FFN("feed-forward"), EXPERTS("experts"), OUTPUT("output");

        public final String label;

        Kind(String label) {
            this.label = label;
        }
    }

    /** A tensor's name and size, as the file lists it. */
    public record TensorSize(String name, long bytes) {}

    /** @param layer the repeating layer, -1 for the embedding, n (the layer count) for the output layer */
    public record Placed(String name, long bytes, int layer, Kind kind, String device) {}

    /** A device's bytes: weights, KV cache, working buffers (activations, attention scores, logits). */
    public record Usage(long weights, long kvCache, long buffers) {
        public long total() {
            return weights + kvCache + buffers;
        }
    }

    /** A table row: tensors of one kind in consecutive layers on one device. */
    public record Group(String label, Kind kind, String device, int tensors, long bytes) {}

    private static final Pattern BLOCK = Pattern.compile("^blk\\.(\\d+)\\.");
    /** The name under which the plan lists a tied output's copy of the embedding. */
    public static final String TIED_OUTPUT = "token_embd.weight (tied output)";

    private final ModelConfig config;
    private final PlacementRequest request;
    private final List<Placed> tensors;
    /** Device of repeating layer i (its KV cache, its non-overridden tensors); index n is the output layer. */
    private final String[] layerDevice;
    private final Map<String, Usage> usage;

    private PlacementPlan(ModelConfig config, PlacementRequest request, List<Placed> tensors, String[] layerDevice) {
        this.config = config;
        this.request = request;
        this.tensors = List.copyOf(tensors);
        this.layerDevice = layerDevice;
        this.usage = usage();
    }

    public static PlacementPlan of(GgufFile f, ModelConfig c, PlacementRequest r) {
        List<TensorSize> sizes = new ArrayList<>();
        for (GgufTensor t : f.tensors()) sizes.add(new TensorSize(t.name(), t.byteSize()));
        return of(sizes, c, r);
    }

    public static PlacementPlan of(List<TensorSize> sizes, ModelConfig c, PlacementRequest r) {
        return of(sizes, c, r, Map.of());
    }

    /** As {@link #of(List, ModelConfig, PlacementRequest)}, then {@code pinned} (tensor name to device) where no -ot rule matched: {@code --fit}'s choices. */
    static PlacementPlan of(List<TensorSize> sizes, ModelConfig c, PlacementRequest r, Map<String, String> pinned) {
        int n = c.blockCount();
        String[] layerDevice = new String[n + 1];
        long ngl = r.gpuLayers() == null ? 0 : r.gpuLayers();
        long gpuStart = Math.max(n + 1 - ngl, 0);
        for (int il = 0; il <= n; il++) layerDevice[il] = il >= gpuStart ? r.gpu() : TensorOverride.Devices.CPU;
        List<Placed> placed = new ArrayList<>();
        for (TensorSize t : sizes) {
            int layer = layerOf(t.name(), n);
            String device = pinned.getOrDefault(t.name(), layer < 0 ? TensorOverride.Devices.CPU : layerDevice[layer]);
            for (TensorOverride o : r.overrides()) {
                if (o.matches(t.name())) {
                    device = o.device();
                    break;
                }
            }
            placed.add(new Placed(t.name(), t.bytes(), layer, kindOf(t.name(), layer, n), device));
            // A tied output is the embedding again on the output layer's device (llama.cpp: TENSOR_DUPLICATED).
            if (layer < 0 && c.tiedOutput() && !layerDevice[n].equals(TensorOverride.Devices.CPU)) {
                placed.add(new Placed(TIED_OUTPUT, t.bytes(), n, Kind.OUTPUT, layerDevice[n]));
            }
        }
        return new PlacementPlan(c, r, placed, layerDevice);
    }

    static int layerOf(String name, int layers) {
        Matcher m = BLOCK.matcher(name);
        if (m.find()) return Integer.parseInt(m.group(1));
        return name.startsWith("token_embd.") ? -1 : layers;
    }

    static Kind kindOf(String name, int layer, int layers) {
        if (layer < 0) return Kind.EMBEDDING;
        if (layer == layers) return Kind.OUTPUT;
        String role = name.substring(name.indexOf('.', 4) + 1);
        if (role.contains("_exps")) return Kind.EXPERTS;
        return role.startsWith("attn_") ? Kind.ATTENTION : Kind.FFN;
    }

    public ModelConfig config() {
        return config;
    }

    public PlacementRequest request() {
        return request;
    }

    public List<Placed> tensors() {
        return tensors;
    }

    /** The device of repeating layer {@code il} (its KV cache); {@code n} is the output layer. */
    public String layerDevice(int il) {
        return layerDevice[il];
    }

    /** Bytes per device, the CPU first, then the GPUs by name. */
    public Map<String, Usage> usage() {
        if (usage != null) return usage;
        Map<String, long[]> acc = new TreeMap<>((a, b) -> a.equals(b) ? 0 : a.equals("CPU") ? -1 : b.equals("CPU") ? 1 : a.compareTo(b));
        acc.computeIfAbsent(TensorOverride.Devices.CPU, k -> new long[3]);
        for (Placed t : tensors) acc.computeIfAbsent(t.device(), k -> new long[3])[0] += t.bytes();
        long kvPerLayer = kvCacheBytesPerLayer();
        for (int il = 0; il < config.blockCount(); il++) acc.computeIfAbsent(layerDevice[il], k -> new long[3])[1] += kvPerLayer;
        for (Map.Entry<String, long[]> e : acc.entrySet()) e.getValue()[2] = bufferBytes(e.getKey());
        Map<String, Usage> out = new LinkedHashMap<>();
        acc.forEach((d, v) -> out.put(d, new Usage(v[0], v[1], v[2])));
        return out;
    }

    /** Keys and values of one layer at the request's context and cache precision. */
    public long kvCacheBytesPerLayer() {
        return 2L * request.context() * config.kvDim() * request.kvBytesPerElement();
    }

    /**
     * The working buffers a device computing any part of a step needs (an estimate, in floats per
     * token of the batch): the residual stream and its normed copy, Q, K, V, attention output,
     * the widest feed-forward's two hidden vectors (on a GPU, all k chosen experts' at once), the
     * chosen experts' outputs, ids and weights, the shared expert's output, and the attention
     * scores over the whole context for every head; the device of the output layer also holds
     * the logits. Buffers are reused from layer to layer, so a device counts them once.
     */
    long bufferBytes(String device) {
        boolean computes = false, output = false;
        for (Placed t : tensors) {
            if (!t.device().equals(device) || t.kind() == Kind.EMBEDDING) continue;
            computes = true;
            output |= t.kind() == Kind.OUTPUT;
        }
        for (int il = 0; il < config.blockCount(); il++) computes |= layerDevice[il].equals(device);
        if (!computes) return 0;
        ModelConfig c = config;
        ModelConfig.Moe moe = c.moe();
        // A GPU's MoE layer holds the hidden vectors of all k chosen experts at once (CudaTransformer), the CPU's one at a time.
        long experts = moe == null ? 0 : device.equals(TensorOverride.Devices.CPU) ? moe.expertFeedForwardLength()
                : (long) moe.expertsUsed() * moe.expertFeedForwardLength();
        long hidden = Math.max(c.feedForwardLength(), moe == null ? 0 : Math.max(experts, moe.sharedFeedForwardLength()));
        long perToken = 3L * c.embeddingLength() + 2L * c.qDim() + 2L * c.kvDim() + 2 * hidden
                + (moe == null ? 0 : (long) moe.expertsUsed() * c.embeddingLength() + moe.expertCount() + 2L * moe.expertsUsed()
                        + (moe.sharedFeedForwardLength() > 0 ? c.embeddingLength() + 1 : 0))
                + (long) c.headCount() * request.context() + (output ? c.vocabSize() : 0);
        return 4 * perToken * request.batch();
    }

    /** True where every tensor, KV cache and buffer is on the one device. */
    public boolean allOn(String device) {
        for (Placed t : tensors) if (t.kind() != Kind.EMBEDDING && !t.device().equals(device)) return false;
        for (int il = 0; il < config.blockCount(); il++) if (!layerDevice[il].equals(device)) return false;
        return true;
    }

    /** The GPUs the plan uses (none: it runs on the CPU alone). */
    public List<String> gpus() {
        return usage.keySet().stream().filter(d -> !d.equals(TensorOverride.Devices.CPU) && usage.get(d).total() > 0).toList();
    }

    /**
     * The shape of split execution Specula runs: everything on the GPU (attention, output, every
     * KV cache) except the feed-forward of some layers; for each layer, whether any of its
     * feed-forward or expert tensors is on the CPU (that layer's whole feed-forward then runs there).
     * Null where the plan splits otherwise (a layer's attention or KV cache on the CPU).
     */
    public boolean[] hostFeedForwardLayers() {
        String gpu = request.gpu();
        int n = config.blockCount();
        for (int il = 0; il <= n; il++) if (!layerDevice[il].equals(gpu)) return null;
        boolean[] host = new boolean[n];
        for (Placed t : tensors) {
            switch (t.kind()) {
                case EMBEDDING -> { }
                case ATTENTION, OUTPUT -> {
                    if (!t.device().equals(gpu)) return null;
                }
                case FFN, EXPERTS -> host[t.layer()] |= !t.device().equals(gpu);
            }
        }
        return host;
    }

    /**
     * A split by layer (llama.cpp's partial -ngl): layers [0, cpuLayers) whole on the CPU,
     * attention, feed-forward and KV cache; the rest and the output on the GPU, where the layers
     * with {@code hostFeedForward[li]} keep their feed-forward on the CPU.
     */
    public record LayerSplit(int cpuLayers, boolean[] hostFeedForward) {}

    /**
     * The layer split this plan is, or a {@link PlacementException} saying in one line why it is
     * none Specula runs. A layer whose attention tensors are all on the CPU (by -ngl or -ot) is a
     * CPU layer, its KV cache then kept on the CPU too (whatever -ngl put it on: that only frees
     * GPU memory); those must be the first layers, with their feed-forward on the CPU as well, and
     * every other layer's attention and KV cache, and the output, must be on the GPU.
     */
    public LayerSplit layerSplit() {
        String gpu = request.gpu();
        int n = config.blockCount();
        int[] attention = new int[n], attentionOnCpu = new int[n];
        boolean[] ffnOnCpu = new boolean[n], ffnOnGpu = new boolean[n];
        for (Placed t : tensors) {
            boolean cpu = t.device().equals(TensorOverride.Devices.CPU);
            switch (t.kind()) {
                case EMBEDDING -> { } // looked up on the CPU, where the first layer is
                case OUTPUT -> {
                    if (cpu) throw new PlacementException(t.name() + " is on the CPU but some layers are on " + gpu
                            + "; Specula runs the output on the GPU of a split (-ngl counts it first)");
                }
                case ATTENTION -> {
                    attention[t.layer()]++;
                    if (cpu) attentionOnCpu[t.layer()]++;
                }
                case FFN, EXPERTS -> {
                    if (cpu) ffnOnCpu[t.layer()] = true;
                    else ffnOnGpu[t.layer()] = true;
                }
            }
        }
        int k = 0;
        while (k < n && attention[k] > 0 && attentionOnCpu[k] == attention[k]) k++;
        for (int il = 0; il < n; il++) {
            if (attentionOnCpu[il] > 0 && attentionOnCpu[il] < attention[il]) {
                throw new PlacementException("layer " + il + " has some attention tensors on the CPU and some on " + gpu
                        + "; Specula splits a layer only between its attention (GPU) and its feed-forward (CPU)");
            }
            if (il < k && ffnOnGpu[il]) {
                throw new PlacementException("layer " + il + " has its attention on the CPU but feed-forward tensors on " + gpu
                        + "; Specula runs a CPU layer whole on the CPU");
            }
            if (il >= k && attentionOnCpu[il] > 0) {
                throw new PlacementException("layer " + il + " is on the CPU but layer " + k + " before it is on " + gpu
                        + "; Specula runs the CPU's layers first, then the GPU's (as -ngl places them)");
            }
            if (il >= k && !layerDevice[il].equals(gpu)) {
                throw new PlacementException("layer " + il + " has its attention on " + gpu + " but its KV cache on " + layerDevice[il]
                        + "; Specula keeps a layer's KV cache where its attention runs");
            }
        }
        if (!layerDevice[n].equals(gpu)) throw new PlacementException("the output is on " + layerDevice[n] + "; nothing on " + gpu + " to split with");
        boolean[] host = new boolean[n];
        for (int il = k; il < n; il++) host[il] = ffnOnCpu[il];
        return new LayerSplit(k, host);
    }

    /**
     * Refuses, in one line, a plan that does not fit the GPU's budget: the bytes needed and
     * missing, and the largest tensor groups placed there.
     */
    public PlacementPlan requireFits() {
        return requireFits(0, null);
    }

    /** As {@link #requireFits()}, with {@code extra} more bytes on the GPU for {@code what} (the backend's own needs). */
    public PlacementPlan requireFits(long extra, String what) {
        String gpu = request.gpu();
        Usage counted = usage.get(gpu);
        if (counted == null && extra == 0) return this;
        Usage u = counted == null ? new Usage(extra, 0, 0) : new Usage(counted.weights() + extra, counted.kvCache(), counted.buffers());
        if (u.total() <= request.gpuBudget()) return this;
        List<Group> there = new ArrayList<>(groups().stream().filter(g -> g.device().equals(gpu)).toList());
        there.sort((a, b) -> Long.compare(b.bytes(), a.bytes()));
        StringBuilder largest = new StringBuilder();
        for (int i = 0; i < Math.min(4, there.size()); i++) {
            if (i > 0) largest.append(", ");
            largest.append(there.get(i).label()).append(' ').append(ByteSize.format(there.get(i).bytes()));
        }
        throw new PlacementException(gpu + " needs " + ByteSize.format(u.total()) + " (weights " + ByteSize.format(u.weights())
                + ", KV cache " + ByteSize.format(u.kvCache()) + ", buffers " + ByteSize.format(u.buffers()) + ") but its budget is "
                + ByteSize.format(request.gpuBudget()) + ": " + ByteSize.format(u.total() - request.gpuBudget()) + " missing; largest there: "
                + largest + (what == null ? "" : ", " + what + " " + ByteSize.format(extra))
                + " (keep some on the CPU: --cpu-moe, --n-cpu-moe N, a lower -ngl, -ot REGEX=CPU, or --fit)");
    }

    /** Tensors grouped by kind, device and runs of consecutive layers ({@code blk.0-23 experts}), in layer order. */
    public List<Group> groups() {
        record Key(Kind kind, String device) {}
        Map<Key, TreeMap<Integer, long[]>> byLayer = new LinkedHashMap<>();
        for (Placed t : tensors) {
            long[] v = byLayer.computeIfAbsent(new Key(t.kind(), t.device()), k -> new TreeMap<>()).computeIfAbsent(t.layer(), l -> new long[2]);
            v[0]++;
            v[1] += t.bytes();
        }
        record Run(int first, int last, Key key, int tensors, long bytes) {}
        List<Run> runs = new ArrayList<>();
        byLayer.forEach((key, layers) -> {
            Run open = null;
            for (Map.Entry<Integer, long[]> e : layers.entrySet()) {
                int l = e.getKey();
                if (open != null && l == open.last() + 1) {
                    open = new Run(open.first(), l, key, open.tensors() + (int) e.getValue()[0], open.bytes() + e.getValue()[1]);
                } else {
                    if (open != null) runs.add(open);
                    open = new Run(l, l, key, (int) e.getValue()[0], e.getValue()[1]);
                }
            }
            if (open != null) runs.add(open);
        });
        runs.sort((a, b) -> a.first() != b.first() ? Integer.compare(a.first(), b.first()) : a.key().kind().compareTo(b.key().kind()));
        List<Group> out = new ArrayList<>();
        int n = config.blockCount();
        for (Run r : runs) {
            String label = r.first() < 0 || r.first() == n ? r.key().kind().label
                    : "blk." + r.first() + (r.last() > r.first() ? "-" + r.last() : "") + " " + r.key().kind().label;
            out.add(new Group(label, r.key().kind(), r.key().device(), r.tensors(), r.bytes()));
        }
        return out;
    }

    /** The KV cache per device as a table row: layers a-b, bytes. */
    public List<Group> kvCacheGroups() {
        List<Group> out = new ArrayList<>();
        int n = config.blockCount(), first = 0;
        for (int il = 1; il <= n; il++) {
            if (il == n || !layerDevice[il].equals(layerDevice[first])) {
                String label = "blk." + first + (il - 1 > first ? "-" + (il - 1) : "") + " KV cache";
                out.add(new Group(label, Kind.ATTENTION, layerDevice[first], 0, kvCacheBytesPerLayer() * (il - first)));
                first = il;
            }
        }
        return out;
    }
}
