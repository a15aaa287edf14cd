package dev.specula.cli;

import dev.specula.gguf.GgufFile;
import java.nio.file.Path;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** Opens a model with a progress bar on the terminal when it is large enough to take a while. */
final class LoadProgress {
    /** Models smaller than this open too fast for a bar to be worth drawing. */
    static final long BAR_THRESHOLD_BYTES = 256L << 20;

    private LoadProgress() {}

    static GgufFile open(Path path) {
        long total = GgufFile.totalBytes(path);
        if (total < BAR_THRESHOLD_BYTES || System.console() == null || !System.console().isTerminal()) return GgufFile.open(path);
        try (ProgressBar bar = new ProgressBarBuilder().setTaskName("loading " + path.getFileName())
                .setInitialMax(total >> 20).setUnit(" MiB", 1).setStyle(ProgressBarStyle.COLORFUL_UNICODE_BLOCK)
                .setConsumer(new me.tongfei.progressbar.InteractiveConsoleProgressBarConsumer(System.err))
                .build()) {
            return GgufFile.open(path, bytes -> bar.stepBy(bytes >> 20));
        }
    }
}
