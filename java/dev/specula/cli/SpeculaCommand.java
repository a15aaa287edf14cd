package dev.specula.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The top-level {@code specula} command; each job is a subcommand. */
@Command(name = "specula", mixinStandardHelpOptions = true, version = "specula 0.1.0",
        description = "GGUF LLM runtime for the JVM.",
        subcommands = {RunCommand.class, ServeCommand.class, InfoCommand.class, BenchCommand.class, DevicesCommand.class, CommandLine.HelpCommand.class})
public final class SpeculaCommand {

    /** Runs the command line and returns the process exit code. */
    public static int run(String... args) {
        return run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args);
    }

    /** Runs with the given output and error streams (tests capture them). */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cl = new CommandLine(new SpeculaCommand());
        cl.setOut(out);
        cl.setErr(err);
        cl.setExecutionExceptionHandler(new OneLineErrors());
        try {
            return cl.execute(args);
        } finally {
            out.flush();
            err.flush();
        }
    }
}
