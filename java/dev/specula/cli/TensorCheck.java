package dev.specula.cli;

import dev.specula.gguf.GgufFile;
import dev.specula.gguf.GgufTensor;
import dev.specula.tensor.TensorFormat;
import dev.specula.tensor.TensorFormats;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * {@code info --check}: decodes every tensor and counts NaN and infinite values, the usual sign
 * of a broken conversion or a corrupted download that the header checks cannot see.
 */
final class TensorCheck {
    /** Elements decoded per step; a multiple of every block size (32 and 256). */
    static final int CHUNK_ELEMENTS = 1 << 16;

    record Finding(String tensor, long nan, long inf) {}

    private TensorCheck() {}

    /** Returns the tensors with non-finite values; reports decoded bytes to {@code progress}. */
    static List<Finding> run(GgufFile file, List<String> skipped, LongConsumer progress) {
        List<Finding> bad = new ArrayList<>();
        float[] buf = new float[CHUNK_ELEMENTS];
        for (GgufTensor t : file.tensors()) {
            if (!TensorFormats.supports(t.type())) {
                skipped.add(t.name() + " (" + t.type() + ")");
                progress.accept(t.byteSize());
                continue;
            }
            TensorFormat f = TensorFormats.of(t);
            long nan = 0, inf = 0;
            for (long at = 0; at < t.elements(); at += CHUNK_ELEMENTS) {
                int n = (int) Math.min(CHUNK_ELEMENTS, t.elements() - at);
                f.dequantize(t.data(), at, buf, 0, n);
                for (int i = 0; i < n; i++) {
                    float v = buf[i];
                    if (Float.isNaN(v)) nan++;
                    else if (Float.isInfinite(v)) inf++;
                }
                progress.accept(t.type().bytesFor(n));
            }
            if (nan + inf > 0) bad.add(new Finding(t.name(), nan, inf));
        }
        return bad;
    }

    /** Prints the findings; returns the exit code (1 when any tensor has non-finite values). */
    static int report(List<Finding> bad, List<String> skipped, int tensors, PrintWriter out) {
        out.println();
        if (!skipped.isEmpty()) out.println("check: skipped " + skipped.size() + " tensors of types Specula cannot decode: " + skipped);
        for (Finding f : bad) {
            out.println("check: tensor '" + f.tensor() + "' has " + f.nan() + " NaN and " + f.inf() + " infinite values");
        }
        out.println("check: " + (tensors - skipped.size()) + " tensors decoded, " + bad.size() + " with non-finite values");
        return bad.isEmpty() ? 0 : 1;
    }
}
