package dev.specula.placement;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The plan's rules: llama.cpp's -ngl, -ot (first match wins), --cpu-moe, --n-cpu-moe, and the memory budget. */
class PlacementPlanTest {
    static final ModelShapes.Shape LLAMA = ModelShapes.llama8b(4);
    static final ModelShapes.Shape MOE = ModelShapes.qwen3Moe30b();

    static PlacementRequest request(Integer ngl, List<TensorOverride> rules, long budget) {
        return new PlacementRequest(ngl, rules, "CUDA0", budget, 4096, 2, 512);
    }

    static PlacementPlan plan(ModelShapes.Shape s, Integer ngl, List<TensorOverride> rules, long budget) {
        return PlacementPlan.of(s.tensors(), s.config(), request(ngl, rules, budget));
    }

    static Map<String, String> devices(PlacementPlan p) {
        return p.tensors().stream().collect(Collectors.toMap(PlacementPlan.Placed::name, PlacementPlan.Placed::device));
    }

    @Test
    void nglCountsTheOutputAsOneLayerAfterTheRepeatingOnesAsLlamaCppDoes() {
        Map<String, String> none = devices(plan(LLAMA, 0, List.of(), Long.MAX_VALUE));
        assertTrue(none.values().stream().allMatch("CPU"::equals), "-ngl 0: everything on the CPU");
        Map<String, String> one = devices(plan(LLAMA, 1, List.of(), Long.MAX_VALUE));
        assertEquals("CUDA0", one.get("output.weight"));
        assertEquals("CUDA0", one.get("output_norm.weight"));
        assertEquals("CPU", one.get("blk.3.attn_q.weight"), "-ngl 1: the output alone");
        Map<String, String> three = devices(plan(LLAMA, 3, List.of(), Long.MAX_VALUE));
        assertEquals("CPU", three.get("blk.1.ffn_up.weight"));
        assertEquals("CUDA0", three.get("blk.2.ffn_up.weight"));
        assertEquals("CUDA0", three.get("blk.3.attn_k.weight"));
        for (Integer all : new Integer[] {5, 999, PlacementRequest.ALL_LAYERS}) {
            PlacementPlan p = plan(LLAMA, all, List.of(), Long.MAX_VALUE);
            assertTrue(p.allOn("CUDA0"), "-ngl " + all + ": everything on the GPU");
            assertEquals("CPU", devices(p).get("token_embd.weight"), "the embedding stays on the CPU");
        }
        assertFalse(plan(LLAMA, 4, List.of(), Long.MAX_VALUE).allOn("CUDA0"), "-ngl 4 of 4 layers leaves layer 0 on the CPU");
    }

    @Test
    void theKvCacheOfALayerLivesWithTheLayerWhereverItsWeightsAreMoved() {
        PlacementPlan p = plan(LLAMA, 3, TensorOverride.parse("blk\\.3\\.attn_=CPU"), Long.MAX_VALUE);
        assertEquals("CPU", devices(p).get("blk.3.attn_q.weight"));
        assertEquals("CUDA0", p.layerDevice(3));
        long kvPerLayer = 2L * 4096 * 1024 * 2;
        assertEquals(kvPerLayer, p.kvCacheBytesPerLayer());
        assertEquals(2 * kvPerLayer, p.usage().get("CUDA0").kvCache(), "layers 2 and 3");
        assertEquals(2 * kvPerLayer, p.usage().get("CPU").kvCache(), "layers 0 and 1");
    }

    @Test
    void theFirstMatchingOverrideWinsOverTheLayersDevice() {
        List<TensorOverride> rules = TensorOverride.parse("blk\\.0\\.ffn_up=CUDA0,ffn_(up|down)=CPU");
        Map<String, String> d = devices(plan(LLAMA, PlacementRequest.ALL_LAYERS, rules, Long.MAX_VALUE));
        assertEquals("CUDA0", d.get("blk.0.ffn_up.weight"), "the first rule");
        assertEquals("CPU", d.get("blk.1.ffn_up.weight"), "the second rule");
        assertEquals("CPU", d.get("blk.0.ffn_down.weight"));
        assertEquals("CUDA0", d.get("blk.0.ffn_gate.weight"), "no rule: the layer's device");
        assertEquals("CUDA0", devices(plan(LLAMA, 0, TensorOverride.parse("output=cuda0"), Long.MAX_VALUE)).get("output.weight"),
                "a rule places a tensor on the GPU without -ngl; device names are case-insensitive");
    }

    @Test
    void cpuMoeKeepsEveryExpertOnTheCpuAndNCpuMoeThoseOfTheFirstNLayers() {
        Map<String, String> all = devices(plan(MOE, PlacementRequest.ALL_LAYERS, List.of(TensorOverride.cpuMoe()), Long.MAX_VALUE));
        for (String n : all.keySet()) {
            assertEquals(n.contains("_exps") ? "CPU" : n.startsWith("token_embd") ? "CPU" : "CUDA0", all.get(n), n);
        }
        Map<String, String> first = devices(plan(MOE, PlacementRequest.ALL_LAYERS, TensorOverride.cpuMoe(2), Long.MAX_VALUE));
        assertEquals("CPU", first.get("blk.0.ffn_up_exps.weight"));
        assertEquals("CPU", first.get("blk.1.ffn_down_exps.weight"));
        assertEquals("CUDA0", first.get("blk.10.ffn_gate_exps.weight"), "blk\\.1\\. does not match layer 10");
        assertEquals("CUDA0", first.get("blk.2.ffn_up_exps.weight"));
        assertEquals("CUDA0", first.get("blk.1.ffn_gate_inp.weight"), "the router is not an expert");
    }

    @Test
    void badRulesAreOneLineErrorsNamingTheRule() {
        assertTrue(assertThrows(PlacementException.class, () -> TensorOverride.parse("exps=TPU0")).getMessage()
                .contains("unknown device 'TPU0'"));
        assertTrue(assertThrows(PlacementException.class, () -> TensorOverride.parse("exps")).getMessage().contains("-ot 'exps': expected REGEX=DEVICE"));
        assertTrue(assertThrows(PlacementException.class, () -> TensorOverride.parse("ffn_(up=CPU")).getMessage().contains("bad regular expression"));
        assertThrows(PlacementException.class, () -> TensorOverride.cpuMoe(-1));
    }

    @Test
    void aPlanOverTheBudgetNamesTheBytesMissingAndTheLargestTensorGroupsThere() {
        PlacementPlan p = plan(MOE, PlacementRequest.ALL_LAYERS, List.of(), ByteSize.parse("8GiB"));
        PlacementPlan.Usage gpu = p.usage().get("CUDA0");
        assertTrue(gpu.weights() > ByteSize.parse("15GiB"), "Qwen3-30B-A3B at Q4_0 is about 16 GiB: " + gpu.weights());
        String m = assertThrows(PlacementException.class, p::requireFits).getMessage();
        assertTrue(m.startsWith("CUDA0 needs "), m);
        assertTrue(m.contains("but its budget is 8.00 GiB: " + ByteSize.format(gpu.total() - ByteSize.parse("8GiB")) + " missing"), m);
        assertTrue(m.contains("largest there: blk.0-47 experts "), m);
        assertFalse(m.contains("\n"));
        // The same with the experts on the CPU fits: weights, KV cache and buffers all counted.
        PlacementPlan fits = plan(MOE, PlacementRequest.ALL_LAYERS, List.of(TensorOverride.cpuMoe()), ByteSize.parse("8GiB")).requireFits();
        PlacementPlan.Usage u = fits.usage().get("CUDA0");
        assertEquals(48 * fits.kvCacheBytesPerLayer(), u.kvCache());
        assertTrue(u.buffers() > 0 && u.total() == u.weights() + u.kvCache() + u.buffers());
    }

    @Test
    void theKvCacheAndBuffersCountAgainstTheBudget() {
        PlacementPlan p = plan(LLAMA, PlacementRequest.ALL_LAYERS, List.of(), Long.MAX_VALUE);
        long weights = p.usage().get("CUDA0").weights();
        long total = p.usage().get("CUDA0").total();
        assertTrue(total > weights);
        assertDoesNotThrow(() -> plan(LLAMA, PlacementRequest.ALL_LAYERS, List.of(), total).requireFits());
        assertThrows(PlacementException.class, () -> plan(LLAMA, PlacementRequest.ALL_LAYERS, List.of(), total - 1).requireFits());
        assertThrows(PlacementException.class, () -> plan(LLAMA, PlacementRequest.ALL_LAYERS, List.of(), weights).requireFits(),
                "weights alone fitting is not enough");
    }

    @Test
    void groupsCompressConsecutiveLayersOfAKindOnADevice() {
        PlacementPlan p = plan(MOE, PlacementRequest.ALL_LAYERS, TensorOverride.cpuMoe(24), Long.MAX_VALUE);
        List<String> rows = p.groups().stream().map(g -> g.label() + "@" + g.device()).toList();
        assertTrue(rows.containsAll(List.of("token embedding@CPU", "blk.0-47 attention@CUDA0", "blk.0-23 experts@CPU",
                "blk.24-47 experts@CUDA0", "output@CUDA0")), rows.toString());
        long bytes = p.groups().stream().mapToLong(PlacementPlan.Group::bytes).sum();
        assertEquals(MOE.tensors().stream().mapToLong(PlacementPlan.TensorSize::bytes).sum(), bytes, "every tensor in one group");
    }

    @Test
    void sizesParseInBinaryAndDecimalUnits() {
        assertEquals(20L << 30, ByteSize.parse("20GiB"));
        assertEquals(500L << 20, ByteSize.parse("500MiB"));
        assertEquals(500L << 20, ByteSize.parse("500m"));
        assertEquals(1_500_000_000L, ByteSize.parse("1.5GB"));
        assertEquals(4096, ByteSize.parse("4096"));
        assertThrows(IllegalArgumentException.class, () -> ByteSize.parse("lots"));
        assertEquals("1.50 GiB", ByteSize.format(3L << 29));
    }

    @Test
    void onlyAFeedForwardSplitIsOneSpeculaRuns() {
        boolean[] experts = plan(MOE, PlacementRequest.ALL_LAYERS, TensorOverride.cpuMoe(3), Long.MAX_VALUE).hostFeedForwardLayers();
        assertTrue(experts[0] && experts[2] && !experts[3]);
        boolean[] whole = plan(MOE, PlacementRequest.ALL_LAYERS, List.of(), Long.MAX_VALUE).hostFeedForwardLayers();
        for (boolean h : whole) assertFalse(h);
        assertNull(plan(MOE, 10, List.of(TensorOverride.cpuMoe()), Long.MAX_VALUE).hostFeedForwardLayers(), "layers on the CPU: a layer split");
        assertNull(plan(LLAMA, PlacementRequest.ALL_LAYERS, TensorOverride.parse("attn_q=CPU"), Long.MAX_VALUE).hostFeedForwardLayers());
        boolean[] dense = plan(LLAMA, PlacementRequest.ALL_LAYERS, TensorOverride.parse("blk\\.1\\.ffn_down=CPU"), Long.MAX_VALUE).hostFeedForwardLayers();
        assertArrayEquals(new boolean[] {false, true, false, false}, dense);
    }

    @Test
    void aPartialNglOrWholeLayersSentToTheCpuAreALayerSplitAndOtherSplitsSayWhyNot() {
        PlacementPlan.LayerSplit two = plan(LLAMA, 3, List.of(), Long.MAX_VALUE).layerSplit();
        assertEquals(2, two.cpuLayers(), "-ngl 3 of 4 layers: the output and layers 2-3 on the GPU");
        assertArrayEquals(new boolean[4], two.hostFeedForward());
        assertEquals(4, plan(LLAMA, 1, List.of(), Long.MAX_VALUE).layerSplit().cpuLayers(), "-ngl 1: the output alone");
        assertEquals(1, plan(LLAMA, PlacementRequest.ALL_LAYERS, TensorOverride.parse("blk\\.0\\.=CPU"), Long.MAX_VALUE).layerSplit().cpuLayers());
        boolean[] experts = plan(MOE, 10, List.of(TensorOverride.cpuMoe()), Long.MAX_VALUE).layerSplit().hostFeedForward();
        int n = MOE.config().blockCount();
        assertFalse(experts[n - 10], "a CPU layer runs whole on the CPU");
        assertTrue(experts[n - 9] && experts[n - 1], "the GPU layers' experts on the CPU");
        var inside = assertThrows(PlacementException.class, () -> plan(LLAMA, PlacementRequest.ALL_LAYERS, TensorOverride.parse("blk\\.1\\.attn_q=CPU"), Long.MAX_VALUE).layerSplit());
        assertEquals("layer 1 has some attention tensors on the CPU and some on CUDA0; Specula splits a layer only between its attention (GPU) and its feed-forward (CPU)", inside.getMessage());
        var after = assertThrows(PlacementException.class, () -> plan(LLAMA, PlacementRequest.ALL_LAYERS, TensorOverride.parse("blk\\.2\\.=CPU"), Long.MAX_VALUE).layerSplit());
        assertTrue(after.getMessage().startsWith("layer 2 is on the CPU but layer 0 before it is on CUDA0"), after.getMessage());
        var ffnUp = assertThrows(PlacementException.class, () -> plan(LLAMA, 2, TensorOverride.parse("blk\\.0\\.ffn=CUDA0"), Long.MAX_VALUE).layerSplit());
        assertTrue(ffnUp.getMessage().startsWith("layer 0 has its attention on the CPU but feed-forward tensors on CUDA0"), ffnUp.getMessage());
    }

    @Test
    void aTiedOutputIsTheEmbeddingAgainOnTheOutputsDevice() {
        ModelShapes.Shape tied = ModelShapes.tied(LLAMA);
        long embedding = tied.tensors().get(0).bytes();
        PlacementPlan gpu = plan(tied, 1, List.of(), Long.MAX_VALUE);
        assertEquals("CUDA0", devices(gpu).get(PlacementPlan.TIED_OUTPUT));
        assertEquals("CPU", devices(gpu).get("token_embd.weight"));
        long gpuWeights = gpu.usage().get("CUDA0").weights();
        assertEquals(embedding + 4L * 4096, gpuWeights, "the tied output and output_norm");
        assertNull(devices(plan(tied, 0, List.of(), Long.MAX_VALUE)).get(PlacementPlan.TIED_OUTPUT), "on the CPU the one mapped copy serves both");
    }
}
