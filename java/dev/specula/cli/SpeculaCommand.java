package dev.specula.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The top-level {@code specula} command; each job is a subcommand. */
@Command(name = "specula", mixinStandardHelpOptions = true, version = "specula 0.1.0",
        description = "GGUF LLM runtime for the JVM.",
        subcommands = {InfoCommand.class, CommandLine.HelpCommand.class})
public final class SpeculaCommand {

    /** Runs the command line and returns the process exit code. */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new SpeculaCommand());
        cl.setExecutionExceptionHandler(new OneLineErrors());
        return cl.execute(args);
    }
}
