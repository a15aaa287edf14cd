package dev.specula.cli;

import dev.specula.engine.KvCache;
import dev.specula.model.ModelConfig;
import java.nio.file.Path;
import java.util.Locale;
import picocli.CommandLine.Option;

/** The model flags {@code run} and {@code serve} share: the file, context, threads, batch, FlashAttention, KV cache type. */
final class ModelOptions {
    /** llama.cpp's default context when -c is not given (0 means the model's own). */
    static final int DEFAULT_CONTEXT = 4096;

    @Option(names = {"-m", "--model"}, required = true, paramLabel = "FILE", description = "GGUF model")
    Path model;
    @Option(names = {"-c", "--ctx-size"}, paramLabel = "N", description = "context size (default: " + DEFAULT_CONTEXT + "; 0 = the model's)")
    int context = DEFAULT_CONTEXT;
    @Option(names = {"-t", "--threads"}, paramLabel = "N", description = "threads (default: all cores)")
    int threads = Runtime.getRuntime().availableProcessors();
    @Option(names = {"-b", "--batch-size"}, paramLabel = "N", description = "prompt tokens per forward pass (default: 512)")
    int batch = 512;
    @Option(names = {"-fa", "--flash-attn"}, paramLabel = "on|off", arity = "0..1", fallbackValue = "on",
            description = "FlashAttention (default: off)")
    String flash = "off";
    @Option(names = {"-ctk", "--cache-type-k"}, paramLabel = "f16|f32", description = "KV cache precision (default: f16)")
    String cacheType = "f16";

    KvCache.Precision precision() {
        return switch (cacheType.toLowerCase(Locale.ROOT)) {
            case "f16" -> KvCache.Precision.F16;
            case "f32" -> KvCache.Precision.F32;
            default -> throw new UserError("-ctk: cache type '" + cacheType + "' is not supported (f16, f32)");
        };
    }

    boolean flashAttention() {
        return switch (flash.toLowerCase(Locale.ROOT)) {
            case "on", "1", "true" -> true;
            case "off", "0", "false" -> false;
            default -> throw new UserError("-fa: expected on or off, got '" + flash + "'");
        };
    }

    /** The context size for model {@code c}: -c, or the model's own for -c 0. */
    int contextFor(ModelConfig c) {
        int ctx = context == 0 ? c.contextLength() : context;
        if (ctx < 1) throw new UserError("-c must be positive (or 0 for the model's " + c.contextLength() + ")");
        return ctx;
    }

    /** Fails with a one-line error where the backend cannot keep this cache type. */
    void checkPrecision(DeviceOption.Backend backend) {
        if (precision() != KvCache.Precision.F16 && backend != DeviceOption.Backend.CPU) {
            throw new UserError("-ctk " + cacheType + ": the GPU keeps an F16 KV cache (f32 runs on the CPU only)");
        }
    }
}
