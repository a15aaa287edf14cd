package dev.specula.placement;

import dev.specula.model.ModelConfig;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * {@code --fit}: the placement within the GPU's budget that {@link CostModel} predicts fastest.
 * Everything goes to the GPU if it fits (the user's -ot rules still win). If not, one candidate
 * per number L of whole layers (attention and KV cache) kept on the CPU, from none upward as a
 * lower {@code -ngl} would: layers 0..L-1 on the CPU, the rest on the GPU, less the tensors that
 * cost least per byte freed until it fits (experts first: a token reads k of n of them; then the
 * dense feed-forward matrices, from the first layer). The fastest predicted candidate wins, so
 * attention and the KV cache leave the GPU only where moving more feed-forward would not fit or
 * would cost more (on a tiny model, the activation copies). The reasons are kept for the user,
 * with the prediction against the best layer offload ({@code -ngl} alone) at the same budget.
 */
public final class PlacementFit {
    /** The dense feed-forward matrices worth moving (norms and routers are too small to free anything). */
    private static final Pattern DENSE_FFN = Pattern.compile("\\.ffn_(gate|up|down)(_shexp)?\\.weight$");

    public record Result(PlacementPlan plan, List<String> reasons) {}

    private PlacementFit() {}

    public static Result fit(List<PlacementPlan.TensorSize> sizes, ModelConfig c, PlacementRequest request) {
        int n = c.blockCount();
        String gpu = request.gpu();
        long budget = request.gpuBudget();
        PlacementPlan whole = PlacementPlan.of(sizes, c, request.withGpuLayers(PlacementRequest.ALL_LAYERS));
        long need = gpuBytes(whole);
        List<String> reasons = new ArrayList<>();
        if (need <= budget) {
            reasons.add("everything fits on " + gpu + ": " + ByteSize.format(need) + " of " + budgetText(budget));
            return new Result(whole, withPrediction(reasons, whole, sizes, c, request));
        }
        reasons.add("everything on " + gpu + " needs " + ByteSize.format(need) + ", " + ByteSize.format(need - budget)
                + " more than its budget of " + ByteSize.format(budget));
        // One candidate per number of whole layers kept on the CPU (0 first): the rest on the GPU,
        // less the cheapest feed-forward tensors until it fits. The fastest predicted one wins.
        Candidate best = null;
        boolean fewerLayersFit = false;
        for (int cpuLayers = 0; cpuLayers <= n + 1; cpuLayers++) {
            Candidate k = candidate(sizes, c, request, cpuLayers);
            if (k == null) continue;
            if (best == null || k.seconds < best.seconds) {
                fewerLayersFit = best != null;
                best = k;
            }
        }
        if (best == null) throw new PlacementException(gpu + ": nothing fits in a budget of " + ByteSize.format(budget));
        explainMoves(reasons, best.moved, c);
        if (best.cpuLayers > 0) {
            reasons.add((best.cpuLayers > n ? "every layer and the output" : best.cpuLayers == 1 ? "layer 0" : "layers 0-" + (best.cpuLayers - 1))
                    + " whole (attention and KV cache) to the CPU: " + (fewerLayersFit
                    ? "predicted faster than moving more feed-forward tensors (each moved tensor adds activation copies)"
                    : "moving feed-forward tensors alone did not free enough"));
        }
        return new Result(best.plan, withPrediction(reasons, best.plan, sizes, c, request));
    }

    private record Candidate(PlacementPlan plan, List<PlacementPlan.Placed> moved, int cpuLayers, double seconds) {}

    /** Layers 0..cpuLayers-1 whole on the CPU, then the cheapest feed-forward tensors until it fits; null if it cannot. */
    private static Candidate candidate(List<PlacementPlan.TensorSize> sizes, ModelConfig c, PlacementRequest request, int cpuLayers) {
        PlacementRequest r = request.withGpuLayers(c.blockCount() + 1 - cpuLayers);
        PlacementPlan plan = PlacementPlan.of(sizes, c, r);
        long need = gpuBytes(plan), budget = request.gpuBudget();
        List<PlacementPlan.Placed> movable = new ArrayList<>();
        for (PlacementPlan.Placed t : plan.tensors()) {
            if (!t.device().equals(request.gpu()) || userRule(request, t.name())) continue;
            if (t.kind() == PlacementPlan.Kind.EXPERTS || (t.kind() == PlacementPlan.Kind.FFN && DENSE_FFN.matcher(t.name()).find())) movable.add(t);
        }
        // Cheapest first: the fraction of its bytes a token reads, then the earlier layer. A layer's
        // experts (or its dense feed-forward) move together: split execution runs a layer's whole
        // feed-forward on one device, so a layer with some experts on each would not run.
        movable.sort(Comparator.comparingDouble((PlacementPlan.Placed t) -> CostModel.readFraction(t, c))
                .thenComparingInt(PlacementPlan.Placed::layer));
        Map<String, List<PlacementPlan.Placed>> groups = new LinkedHashMap<>();
        for (PlacementPlan.Placed t : movable) groups.computeIfAbsent(t.kind() + "/" + t.layer(), g -> new ArrayList<>()).add(t);
        Map<String, String> pinned = new HashMap<>();
        List<PlacementPlan.Placed> moved = new ArrayList<>();
        for (List<PlacementPlan.Placed> group : groups.values()) {
            if (need <= budget) break;
            for (PlacementPlan.Placed t : group) {
                pinned.put(t.name(), TensorOverride.Devices.CPU);
                moved.add(t);
                need -= t.bytes();
            }
        }
        if (!pinned.isEmpty()) plan = PlacementPlan.of(sizes, c, r, pinned);
        if (gpuBytes(plan) > budget) return null;
        return new Candidate(plan, moved, cpuLayers, CostModel.secondsPerToken(plan));
    }

    private static boolean userRule(PlacementRequest r, String name) {
        for (TensorOverride o : r.overrides()) if (o.matches(name)) return true;
        return false;
    }

    static long gpuBytes(PlacementPlan plan) {
        PlacementPlan.Usage u = plan.usage().get(plan.request().gpu());
        return u == null ? 0 : u.total();
    }

    private static String budgetText(long budget) {
        return budget == Long.MAX_VALUE ? "an unlimited budget" : ByteSize.format(budget);
    }

    private static void explainMoves(List<String> reasons, List<PlacementPlan.Placed> moved, ModelConfig c) {
        for (PlacementPlan.Kind kind : new PlacementPlan.Kind[] {PlacementPlan.Kind.EXPERTS, PlacementPlan.Kind.FFN}) {
            TreeSet<Integer> layers = new TreeSet<>();
            long bytes = 0;
            for (PlacementPlan.Placed t : moved) {
                if (t.kind() != kind) continue;
                layers.add(t.layer());
                bytes += t.bytes();
            }
            if (layers.isEmpty()) continue;
            String why = kind == PlacementPlan.Kind.EXPERTS
                    ? "a token reads only " + c.moe().expertsUsed() + " of " + c.moe().expertCount() + " experts, so their bytes cost the least on the CPU"
                    : "dense matrices next: the largest after the experts, and attention stays with its KV cache on the GPU";
            reasons.add(kind.label + " of " + ranges(layers) + " (" + ByteSize.format(bytes) + ") to the CPU: " + why);
        }
    }

    static String ranges(TreeSet<Integer> layers) {
        StringBuilder sb = new StringBuilder(layers.size() == 1 ? "layer " : "layers ");
        Integer first = null, last = null;
        for (int l : layers) {
            if (first != null && l == last + 1) {
                last = l;
                continue;
            }
            if (first != null) sb.append(first.equals(last) ? first : first + "-" + last).append(',');
            first = last = l;
        }
        sb.append(first.equals(last) ? first : first + "-" + last);
        return sb.toString();
    }

    /** Adds the predicted speed, and that of the best -ngl alone within the same budget. */
    private static List<String> withPrediction(List<String> reasons, PlacementPlan plan, List<PlacementPlan.TensorSize> sizes,
                                               ModelConfig c, PlacementRequest request) {
        double chosen = CostModel.secondsPerToken(plan);
        int n = c.blockCount();
        for (int ngl = n + 1; ngl >= 0; ngl--) {
            PlacementPlan layers = PlacementPlan.of(sizes, c, request.withGpuLayers(ngl));
            if (gpuBytes(layers) > request.gpuBudget()) continue;
            double t = CostModel.secondsPerToken(layers);
            reasons.add(String.format(Locale.ROOT, "predicted %.2f ms/token (%.1f tokens/s); -ngl %d alone, the most layers that fit, %.2f ms/token (%.1f tokens/s): %.2fx",
                    chosen * 1e3, 1 / chosen, ngl, t * 1e3, 1 / t, t / chosen));
            break;
        }
        return reasons;
    }
}
