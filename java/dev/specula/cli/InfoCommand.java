package dev.specula.cli;

import dev.specula.gguf.FileType;
import dev.specula.gguf.GgmlType;
import dev.specula.gguf.GgufFile;
import dev.specula.gguf.GgufMetadata;
import dev.specula.gguf.GgufTensor;
import dev.specula.gguf.GgufValue;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import dev.specula.model.ModelConfig;
import dev.specula.placement.CostModel;
import dev.specula.placement.PlacementException;
import dev.specula.placement.PlacementPlan;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code specula info FILE}: what is in a GGUF file, so a user can pick flags and write -ot rules. */
@Command(name = "info", description = "Describe a GGUF file: architecture, sizes, vocabulary, quantisation mix, tensors.")
final class InfoCommand implements Callable<Integer> {
    /** Metadata arrays longer than this are summarised in --metadata output. */
    private static final int METADATA_VALUE_WIDTH = 120;

    @Spec CommandSpec spec;

    @Parameters(arity = "0..1", paramLabel = "FILE", description = "GGUF file (any part of a split model)")
    Path file;

    @Option(names = {"-m", "--model"}, paramLabel = "FILE", description = "GGUF file (same as the positional FILE)")
    Path model;

    @Option(names = "--tensors", paramLabel = "REGEX",
            description = "only list tensors whose name matches REGEX (found anywhere in the name, as -ot does)")
    String tensorFilter;

    @Option(names = "--no-tensors", description = "omit the tensor table")
    boolean noTensors;

    @Option(names = "--metadata", description = "also print every metadata key and value")
    boolean showMetadata;

    @Option(names = "--check", description = "decode every tensor and report NaN/infinite values (exit 1 if any)")
    boolean check;

    @Option(names = "--placement", description = "print which device holds each tensor group, the KV cache and the buffers "
            + "under the placement flags (-ngl, -ot, --cpu-moe, --n-cpu-moe, --gpu-mem, --fit); exit 1 if it does not fit")
    boolean placement;

    @Option(names = {"-c", "--ctx-size"}, paramLabel = "N", description = "with --placement: KV cache positions (default: 4096; 0 = the model's)")
    int context = 4096;

    @Option(names = {"-ctk", "--cache-type-k"}, paramLabel = "f16|f32", description = "with --placement: KV cache precision (default: f16)")
    String cacheType = "f16";

    @Option(names = {"-b", "--batch-size"}, paramLabel = "N", description = "with --placement: tokens per forward pass (default: 512)")
    int batch = 512;

    @Mixin
    PlacementOptions placementOptions = new PlacementOptions();

    @Override
    public Integer call() {
        Path p = model != null ? model : file;
        if (p == null) throw new UserError("info needs a GGUF file: specula info FILE (or -m FILE)");
        Pattern filter = compileFilter();
        try (GgufFile f = LoadProgress.open(p)) {
            PrintWriter out = spec.commandLine().getOut();
            printSummary(f, out);
            if (showMetadata) printMetadata(f.metadata(), out);
            printMix(f, out);
            if (placement) return printPlacement(f, out);
            if (!noTensors) printTensors(f, filter, out);
            if (check) {
                List<String> skipped = new ArrayList<>();
                List<TensorCheck.Finding> bad = LoadProgress.withBar("checking " + p.getFileName(),
                        f.totalTensorBytes(), step -> TensorCheck.run(f, skipped, step));
                return TensorCheck.report(bad, skipped, f.tensors().size(), out);
            }
        }
        return 0;
    }

    private Pattern compileFilter() {
        if (tensorFilter == null) return null;
        try {
            return Pattern.compile(tensorFilter);
        } catch (PatternSyntaxException e) {
            throw new UserError("--tensors: bad regular expression '" + tensorFilter + "': " + e.getDescription());
        }
    }

    private static void printSummary(GgufFile f, PrintWriter out) {
        GgufMetadata m = f.metadata();
        String arch = m.optString("general.architecture").orElse("(none)");
        long fileBytes = GgufFile.totalBytes(f.path());
        field(out, "file", f.path() + (f.paths().size() > 1 ? " (+" + (f.paths().size() - 1) + " more parts)" : ""));
        field(out, "format", "GGUF v" + f.version() + ", " + Units.bytes(fileBytes) + ", alignment " + f.alignment());
        m.optString("general.name").ifPresent(n -> field(out, "name", n));
        field(out, "architecture", arch);
        field(out, "parameters", Units.count(f.totalElements()) + " (" + f.totalElements() + ")");
        if (m.contains("general.file_type")) field(out, "file type", FileType.name(m.getInt("general.file_type")));
        archField(out, m, arch, "context length", "context_length");
        archField(out, m, arch, "embedding", "embedding_length");
        archField(out, m, arch, "layers", "block_count");
        archField(out, m, arch, "feed-forward", "feed_forward_length");
        archField(out, m, arch, "heads", "attention.head_count");
        archField(out, m, arch, "kv heads", "attention.head_count_kv");
        archField(out, m, arch, "experts", "expert_count");
        archField(out, m, arch, "experts used", "expert_used_count");
        archField(out, m, arch, "rope freq base", "rope.freq_base");
        field(out, "vocabulary", vocabulary(m));
        field(out, "chat template", m.optString("tokenizer.chat_template")
                .map(t -> "yes (" + t.length() + " chars; --metadata shows it)").orElse("none"));
    }

    private static String vocabulary(GgufMetadata m) {
        if (!m.contains("tokenizer.ggml.tokens")) return "none";
        StringBuilder sb = new StringBuilder();
        sb.append(m.getArray("tokenizer.ggml.tokens").size()).append(" tokens, ")
                .append(m.optString("tokenizer.ggml.model").orElse("?"));
        m.optString("tokenizer.ggml.pre").ifPresent(pre -> sb.append(" (pre: ").append(pre).append(')'));
        for (String special : List.of("bos", "eos", "eot", "unknown", "padding")) {
            String key = "tokenizer.ggml." + special + "_token_id";
            if (m.contains(key)) sb.append(", ").append(special).append(' ').append(m.get(key).orElseThrow());
        }
        return sb.toString();
    }

    private static void archField(PrintWriter out, GgufMetadata m, String arch, String label, String suffix) {
        m.get(arch + "." + suffix).ifPresent(v -> field(out, label, v.toString()));
    }

    private static void field(PrintWriter out, String label, String value) {
        out.printf(Locale.ROOT, "%-15s %s%n", label, value);
    }

    private static void printMetadata(GgufMetadata m, PrintWriter out) {
        out.println();
        TextTable t = new TextTable("key", "type", "value");
        for (Map.Entry<String, GgufValue> e : m.asMap().entrySet()) {
            String v = e.getValue().toString().replace("\n", "\\n").replace("|", "\\|");
            if (v.length() > METADATA_VALUE_WIDTH) v = v.substring(0, METADATA_VALUE_WIDTH) + "... (" + v.length() + " chars)";
            t.row(e.getKey(), e.getValue().type(), v);
        }
        t.print(out);
    }

    private static void printMix(GgufFile f, PrintWriter out) {
        record Mix(int tensors, long params, long bytes) {}
        Map<GgmlType, Mix> mix = new EnumMap<>(GgmlType.class);
        for (GgufTensor t : f.tensors()) {
            mix.merge(t.type(), new Mix(1, t.elements(), t.byteSize()),
                    (a, b) -> new Mix(a.tensors + b.tensors, a.params + b.params, a.bytes + b.bytes));
        }
        if (mix.isEmpty()) return;
        long total = f.totalTensorBytes();
        out.println();
        TextTable t = new TextTable("type", "bits/weight:", "tensors:", "parameters:", "bytes:", "% of bytes:", "runs here");
        mix.forEach((type, m) -> t.row(type, String.format(Locale.ROOT, "%.2f", type.bitsPerWeight()), m.tensors,
                Units.count(m.params), Units.bytes(m.bytes),
                String.format(Locale.ROOT, "%.1f", 100.0 * m.bytes / Math.max(1, total)),
                type.computable() ? "yes" : "NO"));
        t.print(out);
        List<GgmlType> unsupported = mix.keySet().stream().filter(ty -> !ty.computable()).toList();
        if (!unsupported.isEmpty()) {
            out.println("note: Specula cannot compute with " + unsupported + "; this file can be inspected but not run");
        }
    }

    /** The plan as two tables (tensor groups, then totals per device); 1 with the one-line reason where it does not fit. */
    private int printPlacement(GgufFile f, PrintWriter out) {
        ModelConfig c = ModelConfig.from(f);
        int ctx = context == 0 ? c.contextLength() : context;
        int kvBytes = switch (cacheType.toLowerCase(Locale.ROOT)) {
            case "f16" -> 2;
            case "f32" -> 4;
            default -> throw new UserError("-ctk: cache type '" + cacheType + "' is not supported (f16, f32)");
        };
        long budget = placementOptions.budget(DeviceOption.cudaLibrary.get());
        List<String> reasons = new ArrayList<>();
        PlacementPlan plan = placementOptions.unchecked(f, c, ctx, kvBytes, batch, budget, reasons);
        out.println();
        out.printf(Locale.ROOT, "placement: context %d, %s KV cache, batch %d, CUDA0 budget %s%n", ctx, cacheType.toLowerCase(Locale.ROOT), batch,
                budget == Long.MAX_VALUE ? "unlimited (no GPU found; --gpu-mem sets one)" : Units.bytes(budget));
        for (String r : reasons) out.println("fit: " + r);
        TextTable groups = new TextTable("tensors", "device", "count:", "bytes:");
        for (PlacementPlan.Group g : plan.groups()) groups.row(g.label(), g.device(), g.tensors(), Units.bytes(g.bytes()));
        for (PlacementPlan.Group g : plan.kvCacheGroups()) groups.row(g.label(), g.device(), "", Units.bytes(g.bytes()));
        groups.print(out);
        out.println();
        TextTable totals = new TextTable("device", "weights:", "KV cache:", "buffers:", "total:", "budget:");
        plan.usage().forEach((d, u) -> totals.row(d, Units.bytes(u.weights()), Units.bytes(u.kvCache()), Units.bytes(u.buffers()),
                Units.bytes(u.total()), d.equals("CPU") || budget == Long.MAX_VALUE ? "-" : Units.bytes(budget)));
        totals.print(out);
        out.printf(Locale.ROOT, "predicted decode: %.2f ms/token (cost model: CPU %.0f GB/s, GPU %.0f GB/s, %.0f us per activation copy)%n",
                CostModel.secondsPerToken(plan) * 1e3, CostModel.CPU_BYTES_PER_SECOND / 1e9, CostModel.GPU_BYTES_PER_SECOND / 1e9, CostModel.COPY_SECONDS * 1e6);
        try {
            plan.requireFits();
        } catch (PlacementException e) {
            out.flush();
            spec.commandLine().getErr().println("specula: error: " + f.path().getFileName() + ": " + e.getMessage());
            spec.commandLine().getErr().flush();
            return 1;
        }
        return 0;
    }

    private static void printTensors(GgufFile f, Pattern filter, PrintWriter out) {
        out.println();
        if (f.tensors().isEmpty()) {
            out.println("no tensors (a vocabulary-only file)");
            return;
        }
        TextTable t = new TextTable("#:", "name", "type", "shape", "bytes:");
        long bytes = 0;
        int shown = 0, i = 0;
        for (GgufTensor ten : f.tensors()) {
            i++;
            if (filter != null && !filter.matcher(ten.name()).find()) continue;
            t.row(i, ten.name(), ten.type(), ten.shapeString(), Units.bytes(ten.byteSize()));
            bytes += ten.byteSize();
            shown++;
        }
        t.print(out);
        out.printf(Locale.ROOT, "%d of %d tensors%s, %s%n", shown, f.tensors().size(),
                filter != null ? " match /" + filter.pattern() + "/" : "", Units.bytes(bytes));
    }
}
