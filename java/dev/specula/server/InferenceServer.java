package dev.specula.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.specula.engine.KvCache;
import dev.specula.engine.Transformer;
import dev.specula.speculative.SpeculativeDecoder;
import dev.specula.tokenizer.Tokenizer;
import dev.specula.tokenizer.chat.ChatTemplate;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The HTTP server: llama.cpp's /completion, OpenAI's /v1/completions and /v1/chat/completions
 * (whole answers or server-sent events), /v1/models, /health and /metrics, over the JDK's own
 * HTTP server (jdk.httpserver) with a virtual thread per exchange. Each exchange's thread parses
 * and checks the request, queues it on the {@link SlotScheduler} and writes what the decoding
 * thread reports; a write that fails (the client went away) cancels the request, which frees its
 * slot before the next step. A request that does not stream and is still waiting after
 * {@link #FIRST_ANSWER_MS} gets its 200 headers and a space every {@link #HEARTBEAT_MS} (JSON
 * allows leading whitespace), so that a client that hangs up is noticed there too.
 */
public final class InferenceServer implements AutoCloseable {
    /** Largest request body read, in bytes: far beyond any context, small enough to never exhaust the heap. */
    static final int MAX_BODY_BYTES = 8 << 20;
    /** How long a non-streaming request's answer may take before its headers go out and the heartbeat starts. */
    static final long FIRST_ANSWER_MS = 200;
    /** Silence after which a heartbeat is written (a space, or an SSE comment): what notices a client that left. */
    static final long HEARTBEAT_MS = 200;

    /**
     * @param host       address to listen on
     * @param port       port (0: any free one, see {@link #port()})
     * @param slots      requests decoded together (-np)
     * @param queueLimit requests that may wait for a slot beyond those; past it, 503
     * @param batch      most rows of one target pass (-b)
     * @param modelName  the model's name in answers and /v1/models
     */
    public record Config(String host, int port, int slots, int queueLimit, int batch, String modelName) {}

    private final Config config;
    private final Transformer model;
    private final Tokenizer tokenizer;
    private final int slotContext;
    private final ServerStats stats = new ServerStats();
    private final SlotScheduler scheduler;
    private final RequestParser parser;
    private final HttpServer http;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final Metrics metrics;

    private InferenceServer(Config config, Transformer model, Tokenizer tokenizer, ChatTemplate template, int slotContext,
                            KvCache.Precision precision, SlotDrafts drafts, SpeculativeDecoder.Options draftOptions) throws IOException {
        this.config = config;
        this.model = model;
        this.tokenizer = tokenizer;
        this.slotContext = slotContext;
        this.parser = new RequestParser(tokenizer, template, slotContext, drafts != null);
        this.scheduler = new SlotScheduler(model, tokenizer, config.slots(), slotContext, precision, config.batch(), config.queueLimit(),
                drafts, draftOptions, stats);
        this.metrics = new Metrics(stats, scheduler);
        try {
            http = HttpServer.create(new InetSocketAddress(config.host(), config.port()), 0);
        } catch (IOException | RuntimeException e) {
            scheduler.close();
            throw e;
        }
        http.setExecutor(executor);
        http.createContext("/", this::handle);
        http.start();
    }

    /**
     * Starts serving {@code model} (which the server then drives from its one decoding thread;
     * the caller keeps ownership and closes it after the server). Each of the {@code config.slots()}
     * slots gets a KV cache of {@code slotContext} positions.
     */
    public static InferenceServer start(Config config, Transformer model, Tokenizer tokenizer, ChatTemplate template, int slotContext,
                                        KvCache.Precision precision, SlotDrafts drafts, SpeculativeDecoder.Options draftOptions) throws IOException {
        return new InferenceServer(config, model, tokenizer, template, slotContext, precision, drafts, draftOptions);
    }

    /** The port it listens on (the one chosen when the config said 0). */
    public int port() {
        return http.getAddress().getPort();
    }

    /** Busy slots and waiting requests: what /health reports. */
    public int busySlots() {
        return scheduler.busySlots();
    }

    public int queuedRequests() {
        return scheduler.queued();
    }

    @Override
    public void close() {
        http.stop(0);
        scheduler.close();
        executor.shutdownNow();
    }

    private void handle(HttpExchange ex) {
        try (ex) {
            ex.getResponseHeaders().add("Access-Control-Allow-Origin", "*");
            try {
                route(ex);
            } catch (ApiError e) {
                if (e.status() == 400 || e.status() == 413) stats.invalid.increment();
                sendJson(ex, e.status(), e.toJson());
            } catch (IOException e) {
                // The client went away; nothing to answer.
            } catch (RuntimeException | StackOverflowError e) {
                stats.failed.increment();
                sendJson(ex, 500, ApiError.internal("request failed: " + e).toJson());
            }
        } catch (IOException | RuntimeException e) {
            // Writing an error to a client that already left.
        }
    }

    private void route(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getPath(), method = ex.getRequestMethod();
        if (method.equals("OPTIONS")) {
            ex.getResponseHeaders().add("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
            ex.getResponseHeaders().add("Access-Control-Allow-Headers", "Content-Type, Authorization");
            ex.sendResponseHeaders(204, -1);
            return;
        }
        switch (path) {
            case "/health", "/v1/health" -> {
                expect(method, "GET", path);
                ObjectNode o = Json.MAPPER.createObjectNode();
                o.put("status", "ok");
                o.put("slots_idle", scheduler.slotCount() - scheduler.busySlots());
                o.put("slots_processing", scheduler.busySlots());
                o.put("queue", scheduler.queued());
                sendJson(ex, 200, o);
            }
            case "/metrics" -> {
                expect(method, "GET", path);
                byte[] b = metrics.text().getBytes(StandardCharsets.UTF_8);
                ex.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
                ex.sendResponseHeaders(200, b.length);
                ex.getResponseBody().write(b);
            }
            case "/v1/models", "/models" -> {
                expect(method, "GET", path);
                sendJson(ex, 200, models());
            }
            case "/completion", "/completions" -> generate(ex, method, path, Endpoint.LLAMA_COMPLETION);
            case "/v1/completions" -> generate(ex, method, path, Endpoint.OPENAI_COMPLETION);
            case "/v1/chat/completions", "/chat/completions" -> generate(ex, method, path, Endpoint.OPENAI_CHAT);
            default -> throw new ApiError(404, "not_found_error", "no endpoint " + method + " " + path);
        }
    }

    private static void expect(String method, String wanted, String path) {
        if (!method.equals(wanted)) throw new ApiError(405, "invalid_request_error", path + " takes " + wanted + ", not " + method);
    }

    private ObjectNode models() {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("object", "list");
        ObjectNode m = o.putArray("data").addObject();
        m.put("id", config.modelName());
        m.put("object", "model");
        m.put("created", System.currentTimeMillis() / 1000);
        m.put("owned_by", "specula");
        ObjectNode meta = m.putObject("meta");
        meta.put("n_ctx_train", model.config().contextLength());
        meta.put("n_ctx_slot", slotContext);
        meta.put("n_slots", scheduler.slotCount());
        meta.put("n_vocab", tokenizer.vocabulary().size());
        meta.put("n_embd", model.config().embeddingLength());
        return o;
    }

    private void generate(HttpExchange ex, String method, String path, Endpoint endpoint) throws IOException {
        expect(method, "POST", path);
        CompletionRequest r = parser.parse(endpoint, Json.parseObject(readBody(ex)));
        Job job = scheduler.submit(r);
        boolean done = false;
        try {
            Responses shape = new Responses(endpoint, config.modelName());
            if (r.stream()) stream(ex, job, shape);
            else answer(ex, job, shape);
            done = true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            if (!done) job.cancel(); // the client left, or this thread failed: free the slot
        }
    }

    private static byte[] readBody(HttpExchange ex) throws IOException {
        try (InputStream in = ex.getRequestBody()) {
            byte[] b = in.readNBytes(MAX_BODY_BYTES + 1);
            if (b.length > MAX_BODY_BYTES) throw new ApiError(413, "invalid_request_error", "the request body is larger than " + (MAX_BODY_BYTES >> 20) + " MiB");
            return b;
        }
    }

    /** Server-sent events: a data line per piece, the end (timings), usage if asked, and [DONE] for the OpenAI endpoints. */
    private void stream(HttpExchange ex, Job job, Responses shape) throws IOException, InterruptedException {
        ex.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
        ex.getResponseHeaders().set("Cache-Control", "no-cache");
        ex.sendResponseHeaders(200, 0);
        OutputStream out = ex.getResponseBody();
        event(out, shape.streamStart());
        while (true) {
            Job.Event e = job.events.poll(HEARTBEAT_MS, TimeUnit.MILLISECONDS);
            switch (e) {
                case null -> {
                    out.write(": waiting\n\n".getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                }
                case Job.Piece p -> event(out, shape.streamPiece(p, job.slot));
                case Job.Done d -> {
                    event(out, shape.streamEnd(d, d.timings().predictedN()));
                    if (job.request.endpoint() != Endpoint.LLAMA_COMPLETION) {
                        if (job.request.includeUsage()) event(out, shape.streamUsage(d, d.timings().predictedN()));
                        out.write("data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII));
                        out.flush();
                    }
                    return;
                }
                case Job.Failed f -> {
                    event(out, f.error().toJson());
                    return;
                }
            }
        }
    }

    private static void event(OutputStream out, JsonNode data) throws IOException {
        if (data == null) return;
        out.write(("data: " + Json.write(data) + "\n\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    /** A whole answer; after {@link #FIRST_ANSWER_MS}, a 200 with a heartbeat of spaces before the JSON. */
    private void answer(HttpExchange ex, Job job, Responses shape) throws IOException, InterruptedException {
        StringBuilder content = new StringBuilder();
        List<Integer> tokens = new ArrayList<>();
        List<Job.TokenProbs> probs = new ArrayList<>();
        OutputStream committed = null;
        while (true) {
            Job.Event e = job.events.poll(committed == null ? FIRST_ANSWER_MS : HEARTBEAT_MS, TimeUnit.MILLISECONDS);
            switch (e) {
                case null -> {
                    if (committed == null) {
                        ex.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
                        ex.sendResponseHeaders(200, 0);
                        committed = ex.getResponseBody();
                    }
                    committed.write(' ');
                    committed.flush();
                }
                case Job.Piece p -> {
                    content.append(p.text());
                    for (int t : p.tokens()) tokens.add(t);
                    probs.addAll(p.probs());
                }
                case Job.Done d -> {
                    ObjectNode body = shape.complete(content.toString(), tokens, probs, d);
                    if (committed == null) sendJson(ex, 200, body);
                    else committed.write(Json.write(body).getBytes(StandardCharsets.UTF_8));
                    return;
                }
                case Job.Failed f -> {
                    // Once the 200 is out, the error object is the body.
                    if (committed == null) sendJson(ex, f.error().status(), f.error().toJson());
                    else committed.write(Json.write(f.error().toJson()).getBytes(StandardCharsets.UTF_8));
                    return;
                }
            }
        }
    }

    private static void sendJson(HttpExchange ex, int status, JsonNode body) throws IOException {
        byte[] b = Json.write(body).getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
        ex.sendResponseHeaders(status, b.length);
        ex.getResponseBody().write(b);
    }
}
