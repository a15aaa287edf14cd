package dev.specula.cli;

import dev.specula.engine.Transformer;
import dev.specula.gguf.GgufFile;
import dev.specula.model.ModelConfig;
import dev.specula.model.ModelWeights;
import dev.specula.server.InferenceServer;
import dev.specula.server.SlotDrafts;
import dev.specula.speculative.SpeculativeDecoder;
import dev.specula.tokenizer.Tokenizer;
import dev.specula.tokenizer.chat.ChatTemplate;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.BindException;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code specula serve}: an HTTP server compatible with llama.cpp's llama-server and with
 * OpenAI's completions and chat completions, decoding {@code -np} requests together. Takes
 * every {@code run} flag for the model, the draft and the device.
 */
@Command(name = "serve", description = "Serve a GGUF model over HTTP (llama.cpp /completion, OpenAI /v1/completions and /v1/chat/completions).")
final class ServeCommand implements Callable<Integer> {
    /** Requests that may wait for a slot by default, beyond those being decoded. */
    static final int DEFAULT_QUEUE = 64;

    @Spec CommandSpec spec;

    @Mixin
    ModelOptions options = new ModelOptions();
    @Mixin
    DraftOptions draft = new DraftOptions();
    @Mixin
    DeviceOption device = new DeviceOption();

    @Option(names = "--host", paramLabel = "ADDR", description = "address to listen on (default: 127.0.0.1)")
    String host = "127.0.0.1";
    @Option(names = "--port", paramLabel = "N", description = "port to listen on (default: 8080; 0 = any free port)")
    int port = 8080;
    @Option(names = {"-np", "--parallel"}, paramLabel = "N", description = "slots: requests decoded together, each with -c / N positions (default: 1)")
    int slots = 1;
    @Option(names = "--queue", paramLabel = "N", description = "requests that may wait for a slot; past that, 503 (default: " + DEFAULT_QUEUE + ")")
    int queue = DEFAULT_QUEUE;
    @Option(names = {"-a", "--alias"}, paramLabel = "NAME", description = "the model's name in answers and /v1/models (default: the file name)")
    String alias;

    /** Counted down once the server listens (tests wait on it); {@link #stop} ends {@link #call}. */
    final CountDownLatch listening = new CountDownLatch(1);
    private final CountDownLatch stop = new CountDownLatch(1);
    volatile InferenceServer server;

    @Override
    public Integer call() throws IOException, InterruptedException {
        if (slots < 1) throw new UserError("-np must be at least 1, got " + slots);
        if (queue < 0) throw new UserError("--queue must be at least 0, got " + queue);
        if (port < 0 || port > 65535) throw new UserError("--port must be in [0, 65535], got " + port);
        if (options.batch < 1) throw new UserError("-b must be at least 1, got " + options.batch);
        var precision = options.precision();
        boolean fa = options.flashAttention();
        SpeculativeDecoder.Options draftOptions = draft.enabled() ? draft.options() : null;
        PrintWriter err = spec.commandLine().getErr();
        try (GgufFile f = LoadProgress.open(options.model)) {
            ModelConfig c = ModelConfig.from(f);
            Tokenizer tok = Tokenizer.fromGguf(f);
            int ctx = options.contextFor(c), slotContext = ctx / slots;
            if (slotContext < 2) throw new UserError("-c " + ctx + " leaves " + slotContext + " positions to each of " + slots + " slots (raise -c or lower -np)");
            ChatTemplate template = ChatTemplate.findInGguf(f.metadata()).orElse(null);
            if (template == null) {
                err.println("specula: the model has no chat template; /v1/chat/completions uses ChatML");
                template = ChatTemplate.fromGgufOrChatml(f.metadata());
            }
            DeviceOption.Backend backend = device.choose(f, c, ctx, precision, options.batch, err); // every slot's cache counts
            options.checkPrecision(backend);
            String name = alias != null ? alias : options.model.getFileName().toString();
            try (Transformer m = device.open(backend, c, new ModelWeights(f, c), options.threads, fa, err);
                 SlotDrafts drafts = draft.enabled()
                         ? draft.openForSlots(slots, tok, slotContext, options.threads, fa, precision, device, backend, err) : null) {
                InferenceServer s;
                try {
                    s = InferenceServer.start(new InferenceServer.Config(host, port, slots, queue, options.batch, name), m, tok, template,
                            slotContext, precision, drafts, draftOptions);
                } catch (BindException e) {
                    throw new UserError("cannot listen on " + host + ":" + port + ": " + e.getMessage());
                }
                try (s) {
                    server = s;
                    err.printf(Locale.ROOT, "specula: serving %s on http://%s:%d (%d slot%s of %d positions, %s%s)%n", name, host, s.port(), slots,
                            slots == 1 ? "" : "s", slotContext, m.backendName(), drafts == null ? "" : ", speculative: " + drafts.describe());
                    err.flush();
                    Thread hook = new Thread(stop::countDown);
                    Runtime.getRuntime().addShutdownHook(hook);
                    listening.countDown();
                    stop.await();
                    try {
                        Runtime.getRuntime().removeShutdownHook(hook);
                    } catch (IllegalStateException shuttingDown) {
                        // The hook is what stopped us.
                    }
                }
            }
        }
        return 0;
    }

    /** Stops a running {@link #call} (tests; a signal does the same through the shutdown hook). */
    void stop() {
        stop.countDown();
    }
}
