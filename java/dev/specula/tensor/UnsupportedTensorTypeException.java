package dev.specula.tensor;

import dev.specula.gguf.GgmlType;

/**
 * A tensor whose element type Specula cannot compute with. Raised when a tensor is looked up,
 * before any of its bytes are read, so an unsupported model fails at once with one line naming
 * the tensor and the type instead of producing garbage.
 */
public final class UnsupportedTensorTypeException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final String tensorName;
    private final GgmlType type;

    public UnsupportedTensorTypeException(String tensorName, GgmlType type) {
        super("tensor '" + tensorName + "' has type " + type.name() + ", which Specula cannot compute with (supported: "
                + TensorFormats.supportedNames() + ")");
        this.tensorName = tensorName;
        this.type = type;
    }

    public String tensorName() {
        return tensorName;
    }

    public GgmlType type() {
        return type;
    }
}
