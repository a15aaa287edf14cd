package dev.specula.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.specula.TestFiles;
import dev.specula.backend.cuda.CudaLibrary;
import dev.specula.backend.cuda.EmulatedCuda;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * {@code specula serve} end to end: it takes run's model, draft and device flags, serves
 * speculatively with -md (the greedy text still the target's own), runs on the GPU backend
 * (here the host emulation of specula.h) and refuses bad flags in one line.
 */
class ServeCommandTest {
    static final String PROMPT = "Once upon a time";
    private final Supplier<Optional<CudaLibrary>> real = DeviceOption.cudaLibrary;
    private final HttpClient client = HttpClient.newHttpClient();

    @AfterEach
    void restore() {
        DeviceOption.cudaLibrary = real;
    }

    /** A running serve command on an ephemeral loopback port. */
    record Running(ServeCommand command, Thread thread, int[] code, StringWriter err) implements AutoCloseable {
        int port() {
            return command.server.port();
        }

        @Override
        public void close() throws InterruptedException {
            command.stop();
            thread.join(10_000);
            assertEquals(0, code[0], err.toString());
        }
    }

    private static Running serve(String... args) throws InterruptedException {
        ServeCommand cmd = new ServeCommand();
        StringWriter err = new StringWriter();
        CommandLine cl = new CommandLine(cmd);
        cl.setErr(new PrintWriter(err, true));
        cl.setExecutionExceptionHandler(new OneLineErrors());
        int[] code = {-1};
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--port", "0", "-t", "2"));
        Thread t = Thread.ofPlatform().start(() -> code[0] = cl.execute(all.toArray(String[]::new)));
        long end = System.currentTimeMillis() + 20_000;
        while (!cmd.listening.await(20, TimeUnit.MILLISECONDS)) {
            if (!t.isAlive()) fail("serve exited " + code[0] + ": " + err);
            if (System.currentTimeMillis() > end) fail("serve did not start: " + err);
        }
        return new Running(cmd, t, code, err);
    }

    private String post(int port, String path, String body) throws Exception {
        HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        return r.body();
    }

    private static String field(String json, String name) {
        Matcher m = Pattern.compile("\"" + name + "\":(\"(?:[^\"\\\\]|\\\\.)*\"|[-0-9.]+)").matcher(json);
        assertTrue(m.find(), name + " in " + json);
        String v = m.group(1);
        return v.startsWith("\"") ? v.substring(1, v.length() - 1).replace("\\n", "\n").replace("\\\"", "\"") : v;
    }

    /** What {@code run} writes for the prompt at temperature 0: the prompt, then the generated text. */
    private static String runText(String model, int n, String... more) {
        List<String> args = new ArrayList<>(List.of("run", "-m", model, "-p", PROMPT, "-n", String.valueOf(n), "--temp", "0"));
        args.addAll(List.of(more));
        var r = InfoCommandTest.run(args.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        return r.out().substring(PROMPT.length()).stripTrailing();
    }

    @Test
    void withADraftModelEverySlotDecodesSpeculativelyAndTheGreedyTextIsTheTargets() throws Exception {
        String m = TestFiles.model("stories260K.gguf").toString(), d = TestFiles.model("stories260K-draft-4layer-f32.gguf").toString();
        String expected = runText(m, 40);
        try (Running s = serve("-m", m, "-md", d, "--draft-max", "8", "-np", "2", "-c", "1024", "-a", "stories")) {
            assertTrue(s.err().toString().contains("2 slots of 512 positions, CPU, speculative: draft model"), s.err().toString());
            List<CompletableFuture<String>> answers = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                answers.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        return post(s.port(), "/completion", "{\"prompt\": \"" + PROMPT + "\", \"n_predict\": 40, \"temperature\": 0}");
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                }));
            }
            for (CompletableFuture<String> a : answers) {
                String r = a.get(60, TimeUnit.SECONDS);
                assertEquals(expected, field(r, "content").stripTrailing());
                assertTrue(Integer.parseInt(field(r, "draft_n")) > 0, r);
                assertTrue(Integer.parseInt(field(r, "draft_n_accepted")) > 0, r);
                assertEquals("stories", field(r, "model"));
            }
            // Probabilities need the plain decoder's logits: a clear 400 here.
            HttpResponse<String> probs = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + "/completion"))
                    .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\": \"Hi\", \"n_probs\": 2}")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(400, probs.statusCode());
        }
    }

    @Test
    void splitByLayerTwoSlotsGiveTheCpusGreedyText() throws Exception {
        String m = TestFiles.model("stories260K.gguf").toString();
        String expected = runText(m, 24);
        DeviceOption.cudaLibrary = () -> Optional.of(EmulatedCuda.library());
        try (Running s = serve("-m", m, "-ngl", "3", "-np", "2", "-c", "512")) {
            assertTrue(s.err().toString().contains("specula: split by layer: CPU: the token embedding and layers 0-2"), s.err().toString());
            CompletableFuture<String> a = CompletableFuture.supplyAsync(() -> {
                try {
                    return post(s.port(), "/v1/completions", "{\"prompt\": \"" + PROMPT + "\", \"max_tokens\": 24, \"temperature\": 0}");
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            String b = post(s.port(), "/completion", "{\"prompt\": \"" + PROMPT + "\", \"n_predict\": 24, \"temperature\": 0}");
            assertEquals(expected, field(b, "content").stripTrailing());
            assertEquals(expected, field(a.get(60, TimeUnit.SECONDS), "text").stripTrailing());
        }
    }

    @Test
    void onTheGpuBackendTwoSlotsGiveTheCpusGreedyText() throws Exception {
        String m = TestFiles.model("stories260K.gguf").toString();
        String expected = runText(m, 24);
        DeviceOption.cudaLibrary = () -> Optional.of(EmulatedCuda.library());
        try (Running s = serve("-m", m, "--device", "cuda", "-np", "2", "-c", "512")) {
            assertTrue(s.err().toString().contains("CUDA0"), s.err().toString());
            CompletableFuture<String> a = CompletableFuture.supplyAsync(() -> {
                try {
                    return post(s.port(), "/v1/completions", "{\"prompt\": \"" + PROMPT + "\", \"max_tokens\": 24, \"temperature\": 0}");
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            String b = post(s.port(), "/completion", "{\"prompt\": \"" + PROMPT + "\", \"n_predict\": 24, \"temperature\": 0}");
            assertEquals(expected, field(b, "content").stripTrailing());
            assertEquals(expected, field(a.get(60, TimeUnit.SECONDS), "text").stripTrailing());
        }
    }

    @Test
    void badServeFlagsAreOneLineErrors() {
        String m = TestFiles.model("stories260K.gguf").toString();
        var r = InfoCommandTest.run("serve", "-m", m, "-np", "0", "--port", "0");
        assertEquals(1, r.code());
        assertTrue(r.err().strip().equals("specula: error: -np must be at least 1, got 0"), r.err());
        r = InfoCommandTest.run("serve", "-m", m, "-np", "8", "-c", "8", "--port", "0");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("leaves 1 positions to each of 8 slots"), r.err());
    }
}
