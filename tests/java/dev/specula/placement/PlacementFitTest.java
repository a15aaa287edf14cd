package dev.specula.placement;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;

/** --fit: within the budget, experts and large feed-forward tensors go to the CPU first, attention and KV cache stay. */
class PlacementFitTest {
    static final ModelShapes.Shape MOE = ModelShapes.qwen3Moe30b();

    static PlacementFit.Result fit(ModelShapes.Shape s, String budget, List<TensorOverride> rules) {
        return PlacementFit.fit(s.tensors(), s.config(), new PlacementRequest(null, rules, "CUDA0", ByteSize.parse(budget), 4096, 2, 512));
    }

    @Test
    void whatFitsGoesToTheGpuWhole() {
        PlacementFit.Result r = fit(MOE, "40GiB", List.of());
        assertTrue(r.plan().allOn("CUDA0"));
        assertTrue(r.reasons().get(0).startsWith("everything fits on CUDA0"), r.reasons().toString());
    }

    @Test
    void overTheBudgetTheExpertsMoveFirstFromTheFirstLayerAndAttentionStays() {
        PlacementFit.Result r = fit(MOE, "10GiB", List.of());
        PlacementPlan p = r.plan().requireFits();
        for (PlacementPlan.Placed t : p.tensors()) {
            if (t.kind() == PlacementPlan.Kind.ATTENTION || t.kind() == PlacementPlan.Kind.OUTPUT) assertEquals("CUDA0", t.device(), t.name());
        }
        for (int il = 0; il < 48; il++) assertEquals("CUDA0", p.layerDevice(il), "KV cache of layer " + il);
        assertEquals("CPU", device(p, "blk.0.ffn_up_exps.weight"));
        assertEquals("CUDA0", device(p, "blk.47.ffn_up_exps.weight"), "only as many experts as needed move");
        String reasons = String.join("\n", r.reasons());
        assertTrue(reasons.contains("experts of layers 0-"), reasons);
        assertTrue(reasons.contains("a token reads only 8 of 128 experts"), reasons);
        // Not asserting speed: asserting that the planner picks what its own cost model ranks first.
        PlacementPlan layers = bestLayerOffload(ByteSize.parse("10GiB"));
        assertTrue(CostModel.secondsPerToken(p) < CostModel.secondsPerToken(layers), reasons);
        assertTrue(reasons.contains("-ngl " + layers.request().gpuLayers() + " alone"), reasons);
    }

    @Test
    void aLayersExpertsMoveTogetherSoNoLayerHasExpertsOnBothDevices() {
        for (String budget : List.of("9GiB", "10GiB", "12GiB", "14GiB")) {
            PlacementPlan p = fit(MOE, budget, List.of()).plan().requireFits();
            java.util.Map<Integer, java.util.Set<String>> devices = new java.util.HashMap<>();
            for (PlacementPlan.Placed t : p.tensors()) {
                if (t.kind() == PlacementPlan.Kind.EXPERTS) devices.computeIfAbsent(t.layer(), l -> new java.util.HashSet<>()).add(t.device());
            }
            devices.forEach((layer, d) -> assertEquals(1, d.size(), "experts of layer " + layer + " at " + budget + ": " + d));
        }
    }

    @Test
    void aBudgetTooSmallForAttentionMovesWholeLayersFromTheFirst() {
        PlacementFit.Result r = fit(MOE, "1GiB", List.of());
        PlacementPlan p = r.plan().requireFits();
        assertEquals("CPU", p.layerDevice(0));
        assertTrue(p.tensors().stream().filter(t -> t.kind() == PlacementPlan.Kind.EXPERTS).allMatch(t -> t.device().equals("CPU")));
        assertTrue(String.join("\n", r.reasons()).contains("whole (attention and KV cache) to the CPU"), r.reasons().toString());
    }

    @Test
    void theUsersRulesStillWin() {
        PlacementFit.Result r = fit(MOE, "14GiB", TensorOverride.parse("blk\\.0\\.ffn_.*_exps=CUDA0"));
        assertEquals("CUDA0", device(r.plan(), "blk.0.ffn_up_exps.weight"));
        assertEquals("CPU", device(r.plan(), "blk.1.ffn_up_exps.weight"));
    }

    @Test
    void theChoiceIsNeverPredictedSlowerThanTheBestLayerOffloadAtTheSameBudget() {
        for (ModelShapes.Shape shape : List.of(MOE, ModelShapes.llama8b(32))) {
            for (String budget : List.of("2GiB", "3GiB", "6GiB", "12GiB", "20GiB")) {
                PlacementRequest r = new PlacementRequest(null, List.of(), "CUDA0", ByteSize.parse(budget), 4096, 2, 512);
                PlacementPlan chosen = PlacementFit.fit(shape.tensors(), shape.config(), r).plan().requireFits();
                double best = Double.MAX_VALUE;
                for (int ngl = 0; ngl <= shape.config().blockCount() + 1; ngl++) {
                    PlacementPlan p = PlacementPlan.of(shape.tensors(), shape.config(), r.withGpuLayers(ngl));
                    if (PlacementFit.gpuBytes(p) <= r.gpuBudget()) best = Math.min(best, CostModel.secondsPerToken(p));
                }
                assertTrue(CostModel.secondsPerToken(chosen) <= best, shape.config().architecture() + " at " + budget);
            }
        }
    }

    static String device(PlacementPlan p, String name) {
        return p.tensors().stream().filter(t -> t.name().equals(name)).findFirst().orElseThrow().device();
    }

    static PlacementPlan bestLayerOffload(long budget) {
        for (int ngl = 49; ngl >= 0; ngl--) {
            PlacementPlan p = PlacementPlan.of(MOE.tensors(), MOE.config(), new PlacementRequest(ngl, List.of(), "CUDA0", budget, 4096, 2, 512));
            if (PlacementFit.gpuBytes(p) <= budget) return p;
        }
        throw new AssertionError();
    }
}
