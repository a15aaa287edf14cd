package dev.specula.cli;

import dev.specula.gguf.GgufFile;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "info", description = "Describe a GGUF file: architecture, sizes, vocabulary, tensors.")
final class InfoCommand implements Callable<Integer> {
    @Parameters(arity = "0..1", paramLabel = "FILE") Path file;
    @Option(names = {"-m", "--model"}, paramLabel = "FILE") Path model;

    @Override
    public Integer call() {
        Path p = model != null ? model : file;
        if (p == null) throw new UserError("info needs a GGUF file (specula info FILE or -m FILE)");
        try (GgufFile f = GgufFile.open(p)) {
            System.out.println(f.metadata().keys());
            System.out.println(f.tensors().size() + " tensors");
        }
        return 0;
    }
}
