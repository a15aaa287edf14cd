package dev.specula.tensor;

import dev.specula.gguf.GgmlType;
import dev.specula.gguf.GgufTensor;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/** The {@link TensorFormat} for each GGUF tensor type Specula computes with. */
public final class TensorFormats {
    private static final Map<GgmlType, TensorFormat> BY_TYPE = new EnumMap<>(GgmlType.class);

    static {
        for (TensorFormat f : List.of(new F32Format(), new F16Format(), new BF16Format(),
                new Q4_0Format(), new Q4_1Format(), new Q5_0Format(), new Q5_1Format(), new Q8_0Format(),
                new Q2_KFormat(), new Q3_KFormat(), new Q4_KFormat(), new Q5_KFormat(), new Q6_KFormat(),
                new IQ4_NLFormat(), new IQ4_XSFormat())) {
            BY_TYPE.put(f.type(), f);
        }
    }

    private TensorFormats() {}

    /**
     * The format of {@code type}.
     *
     * @throws IllegalArgumentException when Specula cannot compute with that type; prefer
     *         {@link #of(GgufTensor)} where there is a tensor to name
     */
    public static TensorFormat of(GgmlType type) {
        TensorFormat f = BY_TYPE.get(type);
        if (f == null) {
            throw new IllegalArgumentException("type " + type + " is not one Specula can compute with (supported: " + supportedNames() + ")");
        }
        return f;
    }

    /**
     * The format of a tensor's type.
     *
     * @throws UnsupportedTensorTypeException naming the tensor and its type when Specula
     *         cannot compute with that type
     */
    public static TensorFormat of(GgufTensor tensor) {
        TensorFormat f = BY_TYPE.get(tensor.type());
        if (f == null) throw new UnsupportedTensorTypeException(tensor.name(), tensor.type());
        return f;
    }

    public static boolean supports(GgmlType type) {
        return BY_TYPE.containsKey(type);
    }

    /** Every type with a format, in ggml's id order. */
    public static List<GgmlType> supported() {
        return List.copyOf(BY_TYPE.keySet());
    }

    static String supportedNames() {
        return String.join(", ", supported().stream().map(Enum::name).toList());
    }

    /** Float vector lanes the fast paths use in this JVM (see {@link Lanes#WIDTH_PROPERTY}). */
    public static int vectorLanes() {
        return Lanes.LANES;
    }
}
