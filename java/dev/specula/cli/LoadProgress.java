package dev.specula.cli;

import dev.specula.gguf.GgufFile;
import java.nio.file.Path;
import java.util.function.Function;
import java.util.function.LongConsumer;
import me.tongfei.progressbar.InteractiveConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** Opens a model with a progress bar on the terminal when it is large enough to take a while. */
final class LoadProgress {
    /** Models smaller than this open too fast for a bar to be worth drawing. */
    static final long BAR_THRESHOLD_BYTES = 256L << 20;

    private LoadProgress() {}

    static GgufFile open(Path path) {
        return withBar("loading " + path.getFileName(), GgufFile.totalBytes(path), step -> GgufFile.open(path, step));
    }

    /**
     * Runs {@code work}, which reports the bytes it has done to the consumer it is given, under a
     * progress bar on stderr when stderr is a terminal and the work is large enough to wait for.
     */
    static <T> T withBar(String task, long totalBytes, Function<LongConsumer, T> work) {
        if (totalBytes < BAR_THRESHOLD_BYTES || System.console() == null || !System.console().isTerminal()) {
            return work.apply(bytes -> {});
        }
        try (ProgressBar bar = new ProgressBarBuilder().setTaskName(task)
                .setInitialMax(totalBytes).setUnit(" MiB", 1 << 20).setStyle(ProgressBarStyle.COLORFUL_UNICODE_BLOCK)
                .setConsumer(new InteractiveConsoleProgressBarConsumer(System.err))
                .build()) {
            return work.apply(bar::stepBy);
        }
    }
}
