/* The Metal backend's dispatch plans (metal/src/metal_plan.c), checked without a Mac: argument
 * errors, launch shapes against the kernels' tile constants, the YaRN range, and that every
 * kernel a plan can name is defined in metal/kernels (argv[1]). */
#include "metal_plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); fprintf(stderr, __VA_ARGS__); fprintf(stderr, "\n"); } } while (0)

static specula_buffer buffer(uint64_t bytes) {
    specula_buffer b = {0, NULL, NULL, bytes};
    return b;
}

static char *read_all(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    fclose(f);
    return s;
}

/* Each name is defined as `kernel void NAME(` or instantiated as `("NAME",`. */
static void every_kernel_is_in_the_sources(const char *dir) {
    const char *files[] = {"gemv.metal", "gemm.metal", "flash_attention.metal", "ops.metal"};
    char *src[4];
    for (int i = 0; i < 4; i++) {
        src[i] = read_all(dir, files[i]);
        CHECK(src[i] != NULL, "cannot read %s/%s", dir, files[i]);
        if (src[i] == NULL) return;
    }
    int n = 0;
    for (int k = 0; specula_metal_kernel_names[k] != NULL; k++, n++) {
        char def[128], inst[128];
        snprintf(def, sizeof def, "kernel void %s(", specula_metal_kernel_names[k]);
        snprintf(inst, sizeof inst, "(\"%s\",", specula_metal_kernel_names[k]);
        int found = 0;
        for (int i = 0; i < 4; i++) found |= strstr(src[i], def) != NULL || strstr(src[i], inst) != NULL;
        CHECK(found, "kernel %s is not defined in metal/kernels", specula_metal_kernel_names[k]);
    }
    printf("%d kernel names found in the Metal sources\n", n);
    for (int i = 0; i < 4; i++) free(src[i]);
}

static void matrix_products(void) {
    specula_metal_plan p;
    specula_buffer w = buffer(4096ull * 2304), x = buffer(8 * 4096 * 4), y = buffer(8 * 4096 * 4);
    CHECK(specula_metal_plan_gemv(&p, SPECULA_TYPE_Q4_0, &w, 0, 4096, 4096, &x, 0, 1, &y, 0) == SPECULA_OK, "%s", specula_last_error());
    CHECK(p.n_steps == 1 && strcmp(p.steps[0].kernel, "gemv_q4_0") == 0, "kernel %s", p.steps[0].kernel);
    CHECK(p.steps[0].groups[0] == 4096 / SPECULA_GEMV_ROWS_PER_GROUP && p.steps[0].threads[0] == 32 * SPECULA_GEMV_ROWS_PER_GROUP,
          "gemv grid %u x %u", p.steps[0].groups[0], p.steps[0].threads[0]);
    specula_matmul_args a;
    memcpy(&a, p.steps[0].args, sizeof a);
    CHECK(a.row_bytes == 4096 / 32 * 18 && a.rows == 4096 && a.cols == 4096 && a.n == 1, "args %d %d %d %d", a.rows, a.cols, a.n, a.row_bytes);
    CHECK(p.steps[0].n_bindings == 3 && p.steps[0].bindings[0].buffer == &w && p.steps[0].bindings[2].buffer == &y, "bindings");

    CHECK(specula_metal_plan_gemv(&p, SPECULA_TYPE_Q4_0, &w, 0, 4096, 4096, &x, 0, 9, &y, 0) == SPECULA_ERROR_INVALID_ARGUMENT, "n = 9");
    CHECK(specula_metal_plan_gemv(&p, 99, &w, 0, 4096, 4096, &x, 0, 1, &y, 0) == SPECULA_ERROR_UNSUPPORTED, "type 99");
    CHECK(specula_metal_plan_gemv(&p, SPECULA_TYPE_Q4_K, &w, 0, 16, 4000, &x, 0, 1, &y, 0) == SPECULA_ERROR_INVALID_ARGUMENT, "Q4_K cols 4000");
    CHECK(specula_metal_plan_gemv(&p, SPECULA_TYPE_Q4_0, &w, 0, 4096, 4096, &x, 4, 1, &y, 0) == SPECULA_ERROR_INVALID_ARGUMENT, "x offset 4");
    CHECK(specula_metal_plan_gemv(&p, SPECULA_TYPE_Q4_0, &w, 2, 4096, 4096, &x, 0, 1, &y, 0) == SPECULA_ERROR_INVALID_ARGUMENT &&
          strstr(specula_last_error(), "outside the buffer") != NULL, "weights overrun: %s", specula_last_error());

    CHECK(specula_metal_plan_gemm(&p, SPECULA_TYPE_Q6_K, &w, 0, 100, 256, &x, 0, 33, &y, 0) == SPECULA_OK, "%s", specula_last_error());
    CHECK(strcmp(p.steps[0].kernel, "gemm_q6_k") == 0 && p.steps[0].groups[0] == 2 && p.steps[0].groups[1] == 2 &&
          p.steps[0].threads[0] == 32 * SPECULA_GEMM_SIMDGROUPS, "gemm grid %u x %u", p.steps[0].groups[0], p.steps[0].groups[1]);
    CHECK(specula_metal_row_bytes(SPECULA_TYPE_Q6_K, 512) == 420 && specula_metal_row_bytes(SPECULA_TYPE_Q8_0, 64) == 68 &&
          specula_metal_row_bytes(SPECULA_TYPE_F16, 32) == 64 && specula_metal_row_bytes(SPECULA_TYPE_Q5_K, 100) == 0, "row bytes");
    const int32_t types[] = {SPECULA_TYPE_F32, SPECULA_TYPE_F16, SPECULA_TYPE_Q4_0, SPECULA_TYPE_Q8_0, SPECULA_TYPE_Q4_K,
                             SPECULA_TYPE_Q5_K, SPECULA_TYPE_Q6_K, SPECULA_TYPE_BF16};
    for (int i = 0; i < 8; i++) {
        CHECK(specula_metal_kernel_name("gemv", types[i]) && specula_metal_kernel_name("gemm", types[i]) &&
              specula_metal_kernel_name("embedding", types[i]), "type %d lacks a kernel", types[i]);
    }
}

static void attention(void) {
    specula_metal_plan p;
    specula_attention_params ap = {1, 32, 8, 128, 4096, 0.088f};
    uint64_t cache = 4096ull * 8 * 128 * 2;
    specula_buffer q = buffer(256 * 32 * 128 * 4), ck = buffer(cache), cv = buffer(cache), pos = buffer(256 * 4), out = buffer(256 * 32 * 128 * 4);
    CHECK(specula_metal_plan_flash_attention(&p, &ap, &q, 0, &ck, 0, &cv, 0, &pos, 0, &out, 0) == SPECULA_OK, "%s", specula_last_error());
    CHECK(p.n_steps == 2 && strcmp(p.steps[0].kernel, "flash_attn_decode") == 0 && strcmp(p.steps[1].kernel, "flash_attn_merge") == 0, "decode plan");
    specula_attention_args a;
    memcpy(&a, p.steps[0].args, sizeof a);
    CHECK(a.n_splits == 4096 / SPECULA_FA_MIN_KEYS_PER_SPLIT && a.keys_per_split == SPECULA_FA_MIN_KEYS_PER_SPLIT, "splits %d x %d", a.n_splits, a.keys_per_split);
    CHECK(a.n_splits * a.keys_per_split >= ap.ctx_size, "splits cover the context");
    CHECK(p.scratch_bytes == 1ull * 32 * a.n_splits * (128 + 2) * 4, "scratch %llu", (unsigned long long)p.scratch_bytes);
    CHECK(p.steps[0].bindings[4].scratch && p.steps[1].bindings[0].scratch && p.steps[1].bindings[1].buffer == &out, "scratch bindings");
    CHECK(p.steps[0].groups[0] == (uint32_t)a.n_splits && p.steps[0].groups[1] == 32 && p.steps[0].groups[2] == 1, "decode grid");

    ap.ctx_size = 1 << 20;
    specula_buffer big = buffer((uint64_t)ap.ctx_size * 8 * 128 * 2);
    CHECK(specula_metal_plan_flash_attention(&p, &ap, &q, 0, &big, 0, &big, 0, &pos, 0, &out, 0) == SPECULA_OK, "%s", specula_last_error());
    memcpy(&a, p.steps[0].args, sizeof a);
    CHECK(a.n_splits == SPECULA_FA_MAX_SPLITS && (int64_t)a.n_splits * a.keys_per_split >= ap.ctx_size, "long context: %d x %d", a.n_splits, a.keys_per_split);

    ap.ctx_size = 4096;
    ap.n_tokens = 100;
    CHECK(specula_metal_plan_flash_attention(&p, &ap, &q, 0, &ck, 0, &cv, 0, &pos, 0, &out, 0) == SPECULA_OK, "%s", specula_last_error());
    CHECK(p.n_steps == 1 && strcmp(p.steps[0].kernel, "flash_attn_prefill") == 0 && p.steps[0].groups[0] == 4 && p.steps[0].groups[1] == 32 &&
          p.scratch_bytes == 0, "prefill plan");
    ap.head_dim = 72;
    CHECK(specula_metal_plan_flash_attention(&p, &ap, &q, 0, &ck, 0, &cv, 0, &pos, 0, &out, 0) == SPECULA_ERROR_UNSUPPORTED, "head_dim 72");
    ap.head_dim = 128;
    ap.n_kv_heads = 5;
    CHECK(specula_metal_plan_flash_attention(&p, &ap, &q, 0, &ck, 0, &cv, 0, &pos, 0, &out, 0) == SPECULA_ERROR_INVALID_ARGUMENT, "32 heads over 5 KV heads");
    ap.n_kv_heads = 8;

    uint64_t scratch_bytes = specula_metal_plain_scratch(&ap);
    CHECK(scratch_bytes == 100ull * 32 * 4096 * 4, "plain scratch");
    specula_buffer scratch = buffer(scratch_bytes);
    CHECK(specula_metal_plan_attention_plain(&p, &ap, &q, 0, &ck, 0, &cv, 0, &pos, 0, &scratch, 0, &out, 0) == SPECULA_OK, "%s", specula_last_error());
    CHECK(p.n_steps == 3 && strcmp(p.steps[1].kernel, "softmax") == 0 && p.steps[1].groups[0] == 3200, "plain plan");
    specula_buffer small = buffer(scratch_bytes - 4);
    CHECK(specula_metal_plan_attention_plain(&p, &ap, &q, 0, &ck, 0, &cv, 0, &pos, 0, &small, 0, &out, 0) == SPECULA_ERROR_INVALID_ARGUMENT, "short scratch");
}

static void rope_and_small_ops(void) {
    specula_metal_plan p;
    specula_buffer x = buffer(7 * 32 * 128 * 4), pos = buffer(7 * 4), ff = buffer(64 * 4);
    specula_rope_params rp = {7, 32, 128, 128, SPECULA_ROPE_NEOX, 10000.0f, 0.25f, 1.0f, 1.0f, 32.0f, 1.0f, 4096};
    CHECK(specula_metal_plan_rope(&p, &rp, &x, 0, &pos, 0, &ff, 0) == SPECULA_OK, "%s", specula_last_error());
    specula_rope_args ra;
    memcpy(&ra, p.steps[0].args, sizeof ra);
    /* ggml: corr_dim(b) = n_dims log(n_ctx_orig / (2 pi b)) / (2 log base); [floor(fast), ceil(slow)] clamped. */
    double lo = floor(128 * log(4096 / (32 * 2 * 3.14159265358979323846)) / (2 * log(10000.0)));
    double hi = ceil(128 * log(4096 / (1 * 2 * 3.14159265358979323846)) / (2 * log(10000.0)));
    CHECK(ra.corr_low == (float)fmax(0, lo) && ra.corr_high == (float)fmin(127, hi), "YaRN range %g..%g, expected %g..%g",
          (double)ra.corr_low, (double)ra.corr_high, lo, hi);
    CHECK(ra.has_freq_factors == 1 && p.steps[0].groups[1] == 7 && p.steps[0].groups[0] == (32 * 64 + 255) / 256, "rope grid");
    rp.rope_dim = 130;
    CHECK(specula_metal_plan_rope(&p, &rp, &x, 0, &pos, 0, NULL, 0) == SPECULA_ERROR_INVALID_ARGUMENT, "rope_dim > head_dim");

    specula_buffer a = buffer(1000 * 4), b = buffer(1000 * 4);
    CHECK(specula_metal_plan_add(&p, &a, 0, &b, 0, &a, 0, 1000) == SPECULA_OK && p.steps[0].groups[0] == 4, "add grid");
    CHECK(specula_metal_plan_swiglu(&p, &a, 0, &b, 0, &a, 4, 1000) == SPECULA_ERROR_INVALID_ARGUMENT, "swiglu overrun");
    specula_buffer table = buffer(32000ull * 34 * 2), ids = buffer(5 * 4), y = buffer(5 * 64 * 4);
    CHECK(specula_metal_plan_embedding(&p, SPECULA_TYPE_Q8_0, &table, 0, 32000, 64, &ids, 0, 5, &y, 0) == SPECULA_OK &&
          p.steps[0].uses_errors && strcmp(p.steps[0].kernel, "embedding_q8_0") == 0, "embedding: %s", specula_last_error());
    specula_buffer k = buffer(3 * 256 * 4), cache = buffer(16 * 256 * 2);
    CHECK(specula_metal_plan_kv_store(&p, &k, 0, &k, 0, 3, 256, &cache, 0, &cache, 0, 16, &pos, 0) == SPECULA_OK && p.steps[0].uses_errors,
          "kv_store: %s", specula_last_error());
    CHECK(specula_metal_plan_kv_store(&p, &k, 0, &k, 0, 3, 256, &cache, 0, &cache, 0, 17, &pos, 0) == SPECULA_ERROR_INVALID_ARGUMENT, "cache too small");

    CHECK(specula_metal_plan_copy(&p, &a, 0, &b, 0, 400) == SPECULA_OK && p.steps[0].kind == SPECULA_METAL_BLIT_COPY, "aligned copy blits");
    CHECK(specula_metal_plan_copy(&p, &a, 1, &b, 0, 400) == SPECULA_OK && p.steps[0].kind == SPECULA_METAL_DISPATCH &&
          strcmp(p.steps[0].kernel, "copy_bytes") == 0, "unaligned copy runs the byte kernel");
    CHECK(specula_metal_plan_fill(&p, &a, 3, 5, 7) == SPECULA_OK && p.steps[0].kind == SPECULA_METAL_BLIT_FILL && p.steps[0].fill_value == 7, "fill");
    CHECK(specula_metal_plan_fill(&p, &a, 0, 5, 256) == SPECULA_ERROR_INVALID_ARGUMENT, "fill value 256");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_metal_plan METAL_KERNELS_DIR\n");
        return 2;
    }
    every_kernel_is_in_the_sources(argv[1]);
    matrix_products();
    attention();
    rope_and_small_ops();
    return failures == 0 ? 0 : 1;
}
