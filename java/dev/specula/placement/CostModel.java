package dev.specula.placement;

import dev.specula.model.ModelConfig;
import java.util.HashMap;
import java.util.Map;

/**
 * Predicted time of one decode step under a plan: decoding is memory-bound, so each device
 * reads the bytes a token touches at its bandwidth, and each change of device along the step
 * costs an activation copy. A token reads every dense tensor whole, only {@code k} of {@code n}
 * experts ({@code k/n} of an expert tensor), one row of the embedding, and on average half of
 * its layer's KV cache (the context fills as it decodes).
 *
 * <p>The figures are assumptions, not measurements of this machine: what decides the placement
 * is their ratio (a GPU reads tens of times faster than the CPU) and that an expert byte is read
 * {@code n/k} times less often than a dense one.
 */
public final class CostModel {
    /** Bytes per second the CPU reads weights at (a server's share of DDR5; a desktop is nearer 60e9). */
    public static final double CPU_BYTES_PER_SECOND = 100e9;
    /** Bytes per second a data-centre GPU reads its memory at (H100 PCIe: 2.0 TB/s). */
    public static final double GPU_BYTES_PER_SECOND = 2.0e12;
    /** One activation copy between devices: launch, transfer of a few KiB and synchronisation. */
    public static final double COPY_SECONDS = 15e-6;

    private CostModel() {}

    /** Seconds per decoded token the plan is predicted to take. */
    public static double secondsPerToken(PlacementPlan plan) {
        ModelConfig c = plan.config();
        double seconds = 0;
        // Per layer, the device each part of the step runs on (the one holding most of its bytes).
        int n = c.blockCount();
        Map<Integer, Map<PlacementPlan.Kind, Map<String, Long>>> parts = new HashMap<>();
        for (PlacementPlan.Placed t : plan.tensors()) {
            if (t.kind() == PlacementPlan.Kind.EMBEDDING) continue;
            seconds += t.bytes() * readFraction(t, c) / bandwidth(t.device());
            parts.computeIfAbsent(t.layer(), k -> new HashMap<>()).computeIfAbsent(t.kind(), k -> new HashMap<>())
                    .merge(t.device(), t.bytes(), Long::sum);
        }
        for (int il = 0; il < n; il++) seconds += plan.kvCacheBytesPerLayer() / 2.0 / bandwidth(plan.layerDevice(il));
        String at = TensorOverride.Devices.CPU; // the embedding row is looked up on the CPU
        int copies = 0;
        for (int il = 0; il <= n; il++) {
            Map<PlacementPlan.Kind, Map<String, Long>> layer = parts.getOrDefault(il, Map.of());
            for (PlacementPlan.Kind k : new PlacementPlan.Kind[] {PlacementPlan.Kind.ATTENTION, PlacementPlan.Kind.FFN,
                    PlacementPlan.Kind.EXPERTS, PlacementPlan.Kind.FFN, PlacementPlan.Kind.OUTPUT}) {
                // FFN twice: a layer's router and shared expert run before and after its experts.
                Map<String, Long> on = layer.get(k);
                if (on == null) continue;
                String d = on.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
                if (!d.equals(at)) copies++;
                at = d;
            }
        }
        return seconds + copies * COPY_SECONDS;
    }

    /** The part of a tensor one decoded token reads. */
    static double readFraction(PlacementPlan.Placed t, ModelConfig c) {
        if (t.kind() == PlacementPlan.Kind.EXPERTS && c.moe() != null) return (double) c.moe().expertsUsed() / c.moe().expertCount();
        return 1;
    }

    static double bandwidth(String device) {
        return device.equals(TensorOverride.Devices.CPU) ? CPU_BYTES_PER_SECOND : GPU_BYTES_PER_SECOND;
    }
}
