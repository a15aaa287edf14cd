package dev.specula.cli;

import dev.specula.engine.KvCache;
import dev.specula.engine.Transformer;
import dev.specula.gguf.GgufFile;
import dev.specula.model.ModelConfig;
import dev.specula.model.ModelWeights;
import dev.specula.sampling.SamplingParams;
import dev.specula.server.SlotDrafts;
import dev.specula.speculative.DraftCompatibility;
import dev.specula.speculative.DraftSource;
import dev.specula.speculative.ModelDraft;
import dev.specula.speculative.PromptLookup;
import dev.specula.speculative.SpeculativeDecoder;
import dev.specula.speculative.TextBridgeDraft;
import dev.specula.tokenizer.Tokenizer;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import picocli.CommandLine.Option;

/** The speculative-decoding flags of {@code run} and {@code bench}, named as llama.cpp names them. */
final class DraftOptions {
    @Option(names = {"-md", "--model-draft"}, paramLabel = "FILE", description = "draft model for speculative decoding")
    Path draftModel;
    @Option(names = "--draft-max", paramLabel = "N", description = "most tokens drafted per round (default: 16)")
    int draftMax = 16;
    @Option(names = "--draft-min", paramLabel = "N", description = "fewest drafted tokens worth verifying (default: 0)")
    int draftMin = 0;
    @Option(names = "--draft-p-min", paramLabel = "P", description = "stop drafting once the draft's probability for its token is below P (default: 0.75)")
    float draftPMin = 0.75f;
    @Option(names = {"-cd", "--ctx-size-draft"}, paramLabel = "N", description = "draft context size (default: the target's)")
    int draftContext = 0;
    @Option(names = {"-td", "--threads-draft"}, paramLabel = "N", description = "draft threads (default: the target's)")
    int draftThreads = 0;
    @Option(names = "--lookup", paramLabel = "N", description = "draft by prompt lookup: continue the latest earlier match of the last N tokens (no draft model)")
    int lookup = 0;
    @Option(names = "--draft-adaptive", description = "choose each round's draft length from the acceptance rate and measured costs; pauses drafting when it does not pay")
    boolean adaptive;
    @Option(names = "--spec-allow-mismatch", description = "allow a draft with another vocabulary, translating through text (slower; see README)")
    boolean allowMismatch;

    boolean enabled() {
        return draftModel != null || lookup > 0;
    }

    SpeculativeDecoder.Options options() {
        if (draftMax < 0) throw new UserError("--draft-max must be at least 0, got " + draftMax);
        if (draftMin < 0) throw new UserError("--draft-min must be at least 0, got " + draftMin);
        if (draftPMin < 0 || draftPMin > 1) throw new UserError("--draft-p-min must be in [0, 1], got " + draftPMin);
        return new SpeculativeDecoder.Options(draftMax, draftMin, adaptive);
    }

    /** The first difference between the vocabularies (null when they match); a one-line error unless --spec-allow-mismatch. */
    private String vocabularyMismatch(Tokenizer targetTokenizer, Tokenizer draftTokenizer) {
        String mismatch = DraftCompatibility.mismatch(targetTokenizer.vocabulary(), draftTokenizer.vocabulary());
        if (mismatch != null && !allowMismatch) {
            throw new UserError(draftModel + ": the draft's vocabulary does not match the target's: " + mismatch
                    + " (--spec-allow-mismatch translates through text)");
        }
        return mismatch;
    }

    /**
     * Opens the draft source; the returned handle closes the draft file with it. A draft whose
     * vocabulary differs from the target's is a one-line error naming the first difference,
     * unless --spec-allow-mismatch. The draft runs where the target does ({@code backend}).
     */
    Handle open(Tokenizer targetTokenizer, int targetContext, int threads, boolean flash, KvCache.Precision precision,
                SamplingParams params, DeviceOption device, DeviceOption.Backend backend, PrintWriter err) {
        if (draftModel != null && lookup > 0) throw new UserError("give a draft model (-md) or --lookup, not both");
        if (lookup > 0) return new Handle(new PromptLookup(lookup), null);
        GgufFile f = LoadProgress.open(draftModel);
        try {
            ModelConfig c = ModelConfig.from(f);
            Tokenizer draftTokenizer = Tokenizer.fromGguf(f);
            String mismatch = vocabularyMismatch(targetTokenizer, draftTokenizer);
            int ctx = draftContext > 0 ? draftContext : targetContext;
            Transformer m = device.open(backend, c, new ModelWeights(f, c), draftThreads > 0 ? draftThreads : threads, flash, err);
            ModelDraft draft;
            try {
                draft = new ModelDraft(m, m.newCache(ctx, precision), params, draftPMin);
            } catch (RuntimeException e) {
                m.close();
                throw e;
            }
            if (mismatch == null) return new Handle(draft, f);
            err.println(String.format(Locale.ROOT, "specula: draft vocabulary differs (%s); translating through text", mismatch));
            return new Handle(new TextBridgeDraft(draft, targetTokenizer, draftTokenizer), f);
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    /**
     * Drafts for the server's {@code slots} slots: prompt lookup, or one draft model (loaded once,
     * where the target runs) with a KV cache per slot; each request gets a {@link ModelDraft} on
     * its slot's cache with the request's sampling settings. Vocabulary checks as {@link #open}.
     */
    SlotDrafts openForSlots(int slots, Tokenizer targetTokenizer, int targetContext, int threads, boolean flash,
                            KvCache.Precision precision, DeviceOption device, DeviceOption.Backend backend, PrintWriter err) {
        if (draftModel != null && lookup > 0) throw new UserError("give a draft model (-md) or --lookup, not both");
        if (lookup > 0) {
            int n = lookup;
            return new SlotDrafts() {
                public DraftSource open(int slot, SamplingParams params) {
                    return new PromptLookup(n);
                }

                public String describe() {
                    return "lookup";
                }

                public void close() {}
            };
        }
        GgufFile f = LoadProgress.open(draftModel);
        Transformer m = null;
        KvCache[] caches = new KvCache[slots];
        try {
            ModelConfig c = ModelConfig.from(f);
            Tokenizer draftTokenizer = Tokenizer.fromGguf(f);
            String mismatch = vocabularyMismatch(targetTokenizer, draftTokenizer);
            if (mismatch != null) err.println(String.format(Locale.ROOT, "specula: draft vocabulary differs (%s); translating through text", mismatch));
            int ctx = draftContext > 0 ? draftContext : targetContext;
            m = device.open(backend, c, new ModelWeights(f, c), draftThreads > 0 ? draftThreads : threads, flash, err);
            for (int i = 0; i < slots; i++) caches[i] = m.newCache(ctx, precision);
            Transformer model = m;
            float pMin = draftPMin;
            return new SlotDrafts() {
                public DraftSource open(int slot, SamplingParams params) {
                    ModelDraft d = new ModelDraft(model, caches[slot], params, pMin);
                    return mismatch == null ? d : new TextBridgeDraft(d, targetTokenizer, draftTokenizer);
                }

                public String describe() {
                    return "draft model " + draftModel.getFileName();
                }

                public void close() {
                    for (KvCache k : caches) k.close();
                    model.close();
                    f.close();
                }
            };
        } catch (RuntimeException e) {
            for (KvCache k : caches) if (k != null) k.close();
            if (m != null) m.close();
            f.close();
            throw e;
        }
    }

    /** A draft source and the file it reads, closed together. */
    record Handle(DraftSource source, GgufFile file) implements AutoCloseable {
        @Override
        public void close() {
            source.close();
            if (file != null) file.close();
        }
    }
}
