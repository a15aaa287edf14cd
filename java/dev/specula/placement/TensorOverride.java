package dev.specula.placement;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * One {@code -ot REGEX=DEVICE} rule: tensors whose name the pattern matches anywhere (as
 * llama.cpp's std::regex_search) go to the device. The first matching rule wins.
 */
public record TensorOverride(Pattern pattern, String device) {
    /** llama.cpp's LLM_FFN_EXPS_REGEX: the expert tensors of a mixture-of-experts layer. */
    public static final String EXPERTS_REGEX = "\\.ffn_(up|down|gate|gate_up)_(ch|)exps";

    /** {@code --cpu-moe}: every expert tensor on the CPU. */
    public static TensorOverride cpuMoe() {
        return new TensorOverride(Pattern.compile(EXPERTS_REGEX), Devices.CPU);
    }

    /** {@code --n-cpu-moe N}: the expert tensors of layers 0..N-1 on the CPU (one rule per layer, as llama.cpp adds them). */
    public static List<TensorOverride> cpuMoe(int layers) {
        if (layers < 0) throw new PlacementException("--n-cpu-moe " + layers + ": expected a number of layers >= 0");
        List<TensorOverride> out = new ArrayList<>();
        for (int i = 0; i < layers; i++) out.add(new TensorOverride(Pattern.compile("blk\\." + i + EXPERTS_REGEX), Devices.CPU));
        return out;
    }

    /** The rules of one {@code -ot} value: {@code REGEX=DEVICE[,REGEX=DEVICE...]}. */
    public static List<TensorOverride> parse(String spec) {
        List<TensorOverride> out = new ArrayList<>();
        for (String part : spec.split(",")) {
            int eq = part.lastIndexOf('=');
            if (eq <= 0 || eq == part.length() - 1) {
                throw new PlacementException("-ot '" + part + "': expected REGEX=DEVICE (e.g. \\.ffn_.*_exps\\.=CPU)");
            }
            String regex = part.substring(0, eq);
            String device = Devices.normalize(part.substring(eq + 1), "-ot '" + part + "'");
            try {
                out.add(new TensorOverride(Pattern.compile(regex), device));
            } catch (PatternSyntaxException e) {
                throw new PlacementException("-ot '" + part + "': bad regular expression: " + e.getDescription());
            }
        }
        return out;
    }

    public boolean matches(String tensor) {
        return pattern.matcher(tensor).find();
    }

    @Override
    public String toString() {
        return pattern.pattern() + "=" + device;
    }

    /** Device names as llama.cpp's buffer types spell them: CPU, CUDA0, CUDA1, ..., METAL0. */
    public static final class Devices {
        public static final String CPU = "CPU";
        private static final Pattern GPU = Pattern.compile("(CUDA|METAL)[0-9]+");

        private Devices() {}

        static String normalize(String name, String where) {
            String n = name.strip().toUpperCase(Locale.ROOT);
            if (n.equals(CPU) || GPU.matcher(n).matches()) return n;
            throw new PlacementException(where + ": unknown device '" + name + "' (CPU, CUDA0, CUDA1, ..., METAL0)");
        }
    }
}
