package dev.specula.placement;

import dev.specula.model.ModelConfig;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * {@code --fit}: the placement within the GPU's budget that {@link CostModel} predicts fastest.
 * Everything starts on the GPU (the user's -ot rules still win); while it does not fit, the
 * tensors that cost least per byte freed move to the CPU: experts first (a token reads k of n of
 * them), then the dense feed-forward matrices, layer by layer from the first; only if that is
 * not enough do whole layers (attention and KV cache) follow, from the first, as a lower
 * {@code -ngl} would. The reasons are kept for the user, with the prediction against the best
 * layer offload ({@code -ngl} alone) at the same budget.
 */
public final class PlacementFit {
    /** The dense feed-forward matrices worth moving (norms and routers are too small to free anything). */
    private static final Pattern DENSE_FFN = Pattern.compile("\\.ffn_(gate|up|down)(_shexp)?\\.weight$");

    public record Result(PlacementPlan plan, List<String> reasons) {}

    private PlacementFit() {}

    public static Result fit(List<PlacementPlan.TensorSize> sizes, ModelConfig c, PlacementRequest request) {
        int n = c.blockCount();
        String gpu = request.gpu();
        PlacementRequest all = request.withGpuLayers(PlacementRequest.ALL_LAYERS);
        Map<String, String> pinned = new HashMap<>();
        PlacementPlan plan = PlacementPlan.of(sizes, c, all, pinned);
        List<String> reasons = new ArrayList<>();
        long budget = request.gpuBudget();
        long need = gpuBytes(plan);
        if (need <= budget) {
            reasons.add("everything fits on " + gpu + ": " + ByteSize.format(need) + " of " + budgetText(budget));
            return new Result(plan, withPrediction(reasons, plan, sizes, c, request));
        }
        reasons.add("everything on " + gpu + " needs " + ByteSize.format(need) + ", " + ByteSize.format(need - budget)
                + " more than its budget of " + ByteSize.format(budget));
        List<PlacementPlan.Placed> candidates = new ArrayList<>();
        for (PlacementPlan.Placed t : plan.tensors()) {
            if (!t.device().equals(gpu) || userRule(request, t.name())) continue;
            if (t.kind() == PlacementPlan.Kind.EXPERTS || (t.kind() == PlacementPlan.Kind.FFN && DENSE_FFN.matcher(t.name()).find())) candidates.add(t);
        }
        // Cheapest first: the fraction of its bytes a token reads, then the earlier layer.
        candidates.sort(Comparator.comparingDouble((PlacementPlan.Placed t) -> CostModel.readFraction(t, c))
                .thenComparingInt(PlacementPlan.Placed::layer));
        List<PlacementPlan.Placed> moved = new ArrayList<>();
        for (PlacementPlan.Placed t : candidates) {
            if (need <= budget) break;
            pinned.put(t.name(), TensorOverride.Devices.CPU);
            moved.add(t);
            need -= t.bytes();
        }
        plan = PlacementPlan.of(sizes, c, all, pinned);
        explainMoves(reasons, moved, c);
        int cpuLayers = 0;
        while (gpuBytes(plan) > budget && cpuLayers <= n) {
            cpuLayers++;
            plan = PlacementPlan.of(sizes, c, request.withGpuLayers(n + 1 - cpuLayers), pinned);
        }
        if (cpuLayers > 0) {
            reasons.add((cpuLayers > n ? "every layer and the output" : "layers 0-" + (cpuLayers - 1)) + " whole (attention and KV cache) to the CPU:"
                    + " the feed-forward alone did not free enough");
        }
        return new Result(plan, withPrediction(reasons, plan, sizes, c, request));
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
