package dev.specula.cli;

import dev.specula.gguf.GgufFormatException;
import dev.specula.tensor.UnsupportedTensorTypeException;
import dev.specula.tokenizer.chat.ChatTemplateException;
import picocli.CommandLine;

/**
 * Bad input ends the process with one line naming what is at fault and a non-zero exit code;
 * only a genuine bug prints a stack trace (and says so).
 */
final class OneLineErrors implements CommandLine.IExecutionExceptionHandler {
    static final int EXIT_BAD_INPUT = 1;
    static final int EXIT_BUG = 70;

    @Override
    public int handleExecutionException(Exception ex, CommandLine cmd, CommandLine.ParseResult parseResult) {
        if (ex instanceof GgufFormatException || ex instanceof UserError || ex instanceof UnsupportedTensorTypeException
                || ex instanceof ChatTemplateException) {
            cmd.getErr().println("specula: error: " + ex.getMessage());
            return EXIT_BAD_INPUT;
        }
        cmd.getErr().println("specula: internal error (please report): " + ex);
        ex.printStackTrace(cmd.getErr());
        return EXIT_BUG;
    }
}
