package dev.specula.tensor;

import dev.specula.gguf.GgmlType;

/**
 * Runs {@link TwinCheck} over every supported format in this JVM, whose vector width was fixed
 * at start-up ({@code -Dspecula.vector.bits}). Prints the lane count; exits 1 on a mismatch.
 */
public final class VectorWidthMain {
    private VectorWidthMain() {}

    public static void main(String[] args) {
        System.out.println("lanes=" + TensorFormats.vectorLanes());
        try {
            for (GgmlType type : TensorFormats.supported()) {
                TwinCheck.check(type, type.id);
            }
        } catch (AssertionError e) {
            System.out.println("MISMATCH " + e.getMessage());
            System.exit(1);
        }
        System.out.println("all formats agree");
    }
}
