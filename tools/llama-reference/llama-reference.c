/*
 * Reference outputs from llama.cpp for Specula's correctness tests: for one model and prompt,
 * greedy-decode N tokens one at a time, then evaluate the whole sequence (prompt + generated) in
 * one batch in a fresh context and write every position's logits.
 *
 *   llama-reference MODEL.gguf PROMPT_FILE N OUT_PREFIX [f16]
 *
 * (trailing newlines of PROMPT_FILE are dropped)
 *
 * writes OUT_PREFIX.tokens.npy (int32, [n_tokens]) and OUT_PREFIX.logits.npy (float32,
 * [n_tokens, n_vocab]). CPU only, F32 KV cache (F16 with the last argument), FlashAttention off,
 * one thread (so the result
 * does not depend on the machine's core count). Built against a llama.cpp checkout outside this
 * repository by tools/llama-reference/generate; uses only llama.h's public API.
 */
#include "llama.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *what) {
    fprintf(stderr, "llama-reference: %s\n", what);
    exit(1);
}

static void write_npy(const char *path, const char *descr, const int64_t *shape, int ndim, const void *data, size_t bytes) {
    char header[256];
    char dims[96] = "";
    for (int i = 0; i < ndim; i++) {
        char d[32];
        snprintf(d, sizeof d, ndim == 1 ? "%lld," : (i + 1 < ndim ? "%lld, " : "%lld"), (long long) shape[i]);
        strcat(dims, d);
    }
    int n = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, dims);
    int total = 10 + n + 1;
    int pad = (64 - total % 64) % 64;
    FILE *f = fopen(path, "wb");
    if (!f) die("cannot write output");
    uint16_t hlen = (uint16_t) (n + pad + 1);
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fwrite(&hlen, 2, 1, f);
    fwrite(header, 1, n, f);
    for (int i = 0; i < pad; i++) fputc(' ', f);
    fputc('\n', f);
    fwrite(data, 1, bytes, f);
    fclose(f);
}

static enum ggml_type cache_type = GGML_TYPE_F32;

static struct llama_context *new_context(struct llama_model *model, int n_ctx) {
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = n_ctx;
    cp.n_batch = n_ctx;
    cp.n_ubatch = n_ctx;
    cp.n_threads = 1;
    cp.n_threads_batch = 1;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.type_k = cache_type;
    cp.type_v = cache_type;
    struct llama_context *ctx = llama_init_from_model(model, cp);
    if (!ctx) die("cannot create a context");
    return ctx;
}

int main(int argc, char **argv) {
    if (argc != 5 && !(argc == 6 && strcmp(argv[5], "f16") == 0)) die("usage: llama-reference MODEL.gguf PROMPT_FILE N OUT_PREFIX [f16]");
    if (argc == 6) cache_type = GGML_TYPE_F16;
    int n_gen = atoi(argv[3]);
    FILE *pf = fopen(argv[2], "rb");
    if (!pf) die("cannot read the prompt file");
    char prompt[65536];
    size_t plen = fread(prompt, 1, sizeof prompt - 1, pf);
    fclose(pf);
    while (plen > 0 && (prompt[plen - 1] == '\n' || prompt[plen - 1] == '\r')) plen--; /* the file's final newline is not part of the prompt */
    prompt[plen] = 0;

    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    struct llama_model *model = llama_model_load_from_file(argv[1], mp);
    if (!model) die("cannot load the model");
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    int n_vocab = llama_vocab_n_tokens(vocab);

    int cap = 4096;
    llama_token *tokens = malloc(sizeof(llama_token) * cap);
    int n_prompt = llama_tokenize(vocab, prompt, (int) plen, tokens, cap, true, false);
    if (n_prompt <= 0 || n_prompt + n_gen > cap) die("tokenising failed");
    int n_total = n_prompt + n_gen;

    /* Greedy continuation, one token per llama_decode after the prompt. */
    struct llama_context *ctx = new_context(model, n_total + 8);
    struct llama_batch batch = llama_batch_init(n_total, 0, 1);
    batch.n_tokens = n_prompt;
    for (int i = 0; i < n_prompt; i++) {
        batch.token[i] = tokens[i];
        batch.pos[i] = i;
        batch.n_seq_id[i] = 1;
        batch.seq_id[i][0] = 0;
        batch.logits[i] = i == n_prompt - 1;
    }
    if (llama_decode(ctx, batch)) die("decode failed");
    for (int g = 0; g < n_gen; g++) {
        const float *l = llama_get_logits_ith(ctx, -1);
        int best = 0;
        for (int t = 1; t < n_vocab; t++) if (l[t] > l[best]) best = t;
        int pos = n_prompt + g;
        tokens[pos] = best;
        batch.n_tokens = 1;
        batch.token[0] = best;
        batch.pos[0] = pos;
        batch.n_seq_id[0] = 1;
        batch.seq_id[0][0] = 0;
        batch.logits[0] = 1;
        if (g + 1 < n_gen && llama_decode(ctx, batch)) die("decode failed");
    }
    llama_free(ctx);

    /* The whole sequence in one batch, logits at every position. */
    ctx = new_context(model, n_total + 8);
    batch.n_tokens = n_total;
    for (int i = 0; i < n_total; i++) {
        batch.token[i] = tokens[i];
        batch.pos[i] = i;
        batch.n_seq_id[i] = 1;
        batch.seq_id[i][0] = 0;
        batch.logits[i] = 1;
    }
    if (llama_decode(ctx, batch)) die("decode failed");
    float *logits = malloc(sizeof(float) * (size_t) n_total * n_vocab);
    for (int i = 0; i < n_total; i++) memcpy(logits + (size_t) i * n_vocab, llama_get_logits_ith(ctx, i), sizeof(float) * n_vocab);

    char path[4096];
    int32_t *ids = malloc(sizeof(int32_t) * n_total);
    for (int i = 0; i < n_total; i++) ids[i] = tokens[i];
    int64_t shape1[1] = {n_total}, shape2[2] = {n_total, n_vocab};
    snprintf(path, sizeof path, "%s.tokens.npy", argv[4]);
    write_npy(path, "<i4", shape1, 1, ids, sizeof(int32_t) * n_total);
    snprintf(path, sizeof path, "%s.logits.npy", argv[4]);
    write_npy(path, "<f4", shape2, 2, logits, sizeof(float) * (size_t) n_total * n_vocab);
    printf("%s: %d prompt + %d generated tokens, vocabulary %d\n", argv[4], n_prompt, n_gen, n_vocab);

    llama_batch_free(batch);
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    free(tokens);
    free(logits);
    free(ids);
    return 0;
}
