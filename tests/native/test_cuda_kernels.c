/* libspecula_cuda's kernels against plain C references (gguf_reference.h and the loops below), on
 * random data and shapes including odd ones: GEMV of every type for n = 1..8, GEMM for n up to
 * 512, the fused ops, embedding, RoPE (NORM, NEOX, partial rotation, frequency factors, YaRN),
 * the KV store, flash attention (prefill and split-K decode) and plain attention for every head
 * size with GQA, sticky kernel errors, copies, fills, events, and a recorded step replayed at new
 * positions read from device memory giving what direct launches give; mixture of experts (ABI 2.1):
 * routing, expert GEMV of every type and the weighted sum, and routing recorded into a graph
 * following new logits at replay. Needs a GPU: without one it
 * says so and exits 77, which ctest counts as skipped. */
#include "specula.h"
#include "gguf_reference.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            failures++;                                                      \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);             \
            fprintf(stderr, __VA_ARGS__);                                    \
            fprintf(stderr, "\n");                                           \
        }                                                                    \
    } while (0)
#define OK(call)                                                                                   \
    do {                                                                                           \
        int32_t st_ = (call);                                                                      \
        if (st_ != SPECULA_OK) {                                                                   \
            failures++;                                                                            \
            fprintf(stderr, "FAIL %s:%d: %s: %s\n", __FILE__, __LINE__, #call, specula_last_error()); \
        }                                                                                          \
    } while (0)

static specula_stream *S;

/* The Metal backend's documented differences (metal/README.md), when SPECULA_TEST_BACKEND=metal
 * (metal/emu/check sets it): no element-wise edge path for plain weights, so rows that are not
 * whole 32-weight units are refused (checked: refused, not computed); no 16-byte alignment
 * needed by K-quant loads; RoPE angles in float (Metal has no double), so a position's angle may
 * be an ulp or two from the double-precision reference's; no MoE kernels (UNSUPPORTED). */
static int metal_backend;

static specula_buffer *dev(uint64_t bytes) {
    specula_buffer *b = NULL;
    OK(specula_buffer_alloc(0, bytes, &b));
    return b;
}

static specula_buffer *dev_from(const void *host, uint64_t bytes) {
    specula_buffer *b = dev(bytes);
    OK(specula_buffer_upload(b, 0, host, bytes, NULL));
    return b;
}

static void down(const specula_buffer *b, void *host, uint64_t bytes) {
    OK(specula_stream_synchronize(S));
    OK(specula_buffer_download(b, 0, host, bytes, NULL));
}

static float *randoms(size_t n, float lo, float hi) {
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = ref_uniform(lo, hi);
    return v;
}

/* Every got[i] within atol + rtol * |want[i]|; reports the worst. */
static void compare(const char *what, const float *got, const double *want, size_t n, double atol, double rtol) {
    double worst = 0;
    size_t at = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        const double err = fabs((double)got[i] - want[i]), lim = atol + rtol * fabs(want[i]);
        if (!(err <= lim)) bad++;
        if (!(err <= worst)) {
            worst = err;
            at = i;
        }
    }
    CHECK(bad == 0, "%s: %zu of %zu differ, worst at %zu: %.7g, want %.7g", what, bad, n, at, (double)got[at], want[at]);
}

static int32_t kernel_errors(void) {
    int32_t e = -1;
    OK(specula_kernel_errors(0, &e));
    return e;
}

/* ---- matrix products ---- */

/* Weights in registered host memory (zero-copy, as mapped GGUF files on integrated GPUs) when set. */
static int registered_weights;

static void matmul_case(int type, int64_t rows, int64_t cols, int n, int gemm) {
    const size_t rb = ref_row_bytes(type, cols);
    uint8_t *w = malloc(rows * rb);
    float *wf = malloc(sizeof(float) * rows * cols), *x = randoms((size_t)n * cols, -1, 1), *y = malloc(sizeof(float) * n * rows);
    double *want = malloc(sizeof(double) * n * rows);
    for (int64_t r = 0; r < rows; r++) {
        ref_random_row(type, cols, w + r * rb);
        ref_dequantize_row(type, w + r * rb, cols, wf + r * cols);
    }
    /* The tensor-core path rounds both operands to F16; the bound scales with sum |w x|. */
    double *mag = malloc(sizeof(double) * n * rows);
    float *xr = malloc(sizeof(float) * n * cols);
    for (size_t i = 0; i < (size_t)n * cols; i++) xr[i] = gemm ? ref_round_half(x[i]) : x[i];
    for (size_t i = 0; gemm && i < (size_t)rows * cols; i++) wf[i] = ref_round_half(wf[i]);
    for (int i = 0; i < n; i++) {
        for (int64_t r = 0; r < rows; r++) {
            double sum = 0, m = 0;
            for (int64_t c = 0; c < cols; c++) {
                const double a = wf[r * cols + c], b = xr[(size_t)i * cols + c];
                sum += a * b;
                m += fabs(a * b);
            }
            want[(size_t)i * rows + r] = sum;
            mag[(size_t)i * rows + r] = m;
        }
    }
    specula_buffer *wb = NULL, *xb = dev_from(x, sizeof(float) * n * cols), *yb = dev(sizeof(float) * n * rows);
    void *pinned = NULL;
    if (registered_weights) {
        const size_t bytes = (rows * rb + 4095) / 4096 * 4096;
        pinned = aligned_alloc(4096, bytes);
        memcpy(pinned, w, rows * rb);
        OK(specula_buffer_register_host(0, pinned, bytes, &wb));
    } else {
        wb = dev_from(w, rows * rb);
    }
    if (gemm) OK(specula_gemm(S, type, wb, 0, rows, cols, xb, 0, n, yb, 0));
    else OK(specula_gemv(S, type, wb, 0, rows, cols, xb, 0, n, yb, 0));
    down(yb, y, sizeof(float) * n * rows);
    size_t bad = 0;
    double worst_ratio = 0;
    for (size_t i = 0; i < (size_t)n * rows; i++) {
        const double err = fabs(y[i] - want[i]), lim = (gemm ? 3e-4 : 1e-4) * mag[i] + 1e-6;
        if (err / lim > worst_ratio || err != err) worst_ratio = err / lim;
        if (!(err <= lim) && bad++ < 3) {
            fprintf(stderr, "  %s %s %lldx%lld n=%d: y[%zu][%zu] = %.7g, want %.7g\n", gemm ? "gemm" : "gemv", ref_type_name(type),
                    (long long)rows, (long long)cols, n, i / rows, i % rows, y[i], want[i]);
        }
    }
    CHECK(bad == 0, "%s %s %lldx%lld n=%d: %zu of %lld outputs off (worst %.2f of the bound)", gemm ? "gemm" : "gemv",
          ref_type_name(type), (long long)rows, (long long)cols, n, bad, (long long)(n * rows), worst_ratio);
    free(mag);
    free(xr);
    specula_buffer_free(wb); /* unregisters registered weights before their memory goes */
    free(pinned);
    specula_buffer_free(xb);
    specula_buffer_free(yb);
    free(w);
    free(wf);
    free(x);
    free(y);
    free(want);
}

static void test_matmul(void) {
    for (int t = 0; t < REF_N_TYPES; t++) {
        const int type = REF_TYPES[t];
        CHECK(specula_type_supported(type) == 1, "type %s not supported", ref_type_name(type));
        for (int n = 1; n <= 8; n++) matmul_case(type, n % 2 ? 37 : 133, 768, n, 0);
        if (ref_block(type) == 32) matmul_case(type, 1, 32, 3, 0); /* one unit, one row */
        if (ref_plain_bytes(type) && metal_backend) { /* no edge paths: refused, in one line */
            specula_buffer *b = dev(172 * 172 * 4 + 512 * 17 * 4);
            CHECK(specula_gemv(S, type, b, 0, 172, 172, b, 0, 1, b, 0) == SPECULA_ERROR_INVALID_ARGUMENT, "%s gemv 172 x 172 accepted",
                  ref_type_name(type));
            CHECK(specula_gemm(S, type, b, 0, 64, 97, b, 0, 9, b, 0) == SPECULA_ERROR_INVALID_ARGUMENT, "%s gemm 64 x 97 accepted",
                  ref_type_name(type));
            specula_buffer_free(b);
        } else if (ref_plain_bytes(type)) {                          /* rows of no whole units: the edge paths */
            matmul_case(type, 172, 172, 1, 0);
            matmul_case(type, 64, 97, 8, 0);
            matmul_case(type, 172, 172, 17, 1);
            matmul_case(type, 64, 97, 9, 1);
        }
        const int ns[] = {2, 3, 17, 64, 200, 512};
        for (int i = 0; i < 6; i++) matmul_case(type, i % 2 ? 77 : 130, 512, ns[i], 1);
        printf("gemv, gemm %-5s checked\n", ref_type_name(type));
    }
    CHECK(specula_type_supported(3) == 0, "type 3 (Q4_1) reported supported");
}

static void test_matmul_arguments(void) {
    specula_buffer *w = dev(4096), *x = dev(4096), *y = dev(4096);
    CHECK(specula_gemv(S, REF_Q4_0, w, 0, 4, 32, x, 0, 9, y, 0) == SPECULA_ERROR_INVALID_ARGUMENT, "gemv n = 9 accepted");
    CHECK(specula_gemv(S, 3, w, 0, 4, 32, x, 0, 1, y, 0) == SPECULA_ERROR_UNSUPPORTED, "gemv of type 3 accepted");
    CHECK(specula_gemv(S, REF_Q4_0, w, 0, 4, 33, x, 0, 1, y, 0) == SPECULA_ERROR_INVALID_ARGUMENT, "33 columns accepted");
    CHECK(specula_gemv(S, REF_Q4_0, w, 0, 4, 32, x, 4, 1, y, 0) == SPECULA_ERROR_INVALID_ARGUMENT, "unaligned x accepted");
    CHECK(specula_gemm(S, REF_F16, w, 1, 4, 32, x, 0, 2, y, 0) == SPECULA_ERROR_INVALID_ARGUMENT, "odd F16 weights accepted");
    if (!metal_backend) {
        CHECK(specula_gemm(S, REF_Q4_K, w, 8, 4, 256, x, 0, 2, y, 0) == SPECULA_ERROR_INVALID_ARGUMENT, "unaligned Q4_K weights accepted");
    }
    CHECK(specula_gemm(S, REF_Q8_0, w, 0, 1000, 64, x, 0, 2, y, 0) == SPECULA_ERROR_INVALID_ARGUMENT, "weights past the buffer accepted");
    CHECK(strstr(specula_last_error(), "weights") != NULL, "message does not name the weights: %s", specula_last_error());
    CHECK(specula_gemv(NULL, REF_Q4_0, w, 0, 4, 32, x, 0, 1, y, 0) == SPECULA_ERROR_INVALID_ARGUMENT, "NULL stream accepted");
    specula_buffer_free(w);
    specula_buffer_free(x);
    specula_buffer_free(y);
}

/* ---- fused ops ---- */

static void test_ops(void) {
    { /* rms_norm, also in place */
        const int rows = 3, dim = 1001;
        float *x = randoms(rows * dim, -2, 2), *g = randoms(dim, 0.5f, 1.5f), *y = malloc(sizeof(float) * rows * dim);
        double *want = malloc(sizeof(double) * rows * dim);
        for (int r = 0; r < rows; r++) {
            double ss = 0;
            for (int i = 0; i < dim; i++) ss += (double)x[r * dim + i] * x[r * dim + i];
            const double inv = 1 / sqrt(ss / dim + 1e-5);
            for (int i = 0; i < dim; i++) want[r * dim + i] = x[r * dim + i] * inv * g[i];
        }
        specula_buffer *xb = dev_from(x, sizeof(float) * rows * dim), *gb = dev_from(g, sizeof(float) * dim), *yb = dev(sizeof(float) * rows * dim);
        OK(specula_rms_norm(S, xb, 0, gb, 0, yb, 0, rows, dim, 1e-5f));
        down(yb, y, sizeof(float) * rows * dim);
        compare("rms_norm", y, want, rows * dim, 1e-5, 1e-5);
        OK(specula_rms_norm(S, xb, 0, gb, 0, xb, 0, rows, dim, 1e-5f));
        down(xb, y, sizeof(float) * rows * dim);
        compare("rms_norm in place", y, want, rows * dim, 1e-5, 1e-5);
        specula_buffer_free(xb), specula_buffer_free(gb), specula_buffer_free(yb);
        free(x), free(g), free(y), free(want);
    }
    { /* add, swiglu (in place into the first operand) */
        const int n = 100003;
        float *a = randoms(n, -8, 8), *b = randoms(n, -2, 2), *y = malloc(sizeof(float) * n);
        double *want = malloc(sizeof(double) * n);
        specula_buffer *ab = dev_from(a, sizeof(float) * n), *bb = dev_from(b, sizeof(float) * n), *yb = dev(sizeof(float) * n);
        OK(specula_add(S, ab, 0, bb, 0, yb, 0, n));
        down(yb, y, sizeof(float) * n);
        for (int i = 0; i < n; i++) want[i] = (double)a[i] + b[i];
        compare("add", y, want, n, 1e-6, 1e-6);
        OK(specula_swiglu(S, ab, 0, bb, 0, ab, 0, n));
        down(ab, y, sizeof(float) * n);
        for (int i = 0; i < n; i++) want[i] = a[i] / (1 + exp(-(double)a[i])) * b[i];
        compare("swiglu", y, want, n, 1e-5, 1e-5);
        specula_buffer_free(ab), specula_buffer_free(bb), specula_buffer_free(yb);
        free(a), free(b), free(y), free(want);
    }
    { /* softmax with a scale; a row of -inf only gives zeros */
        const int rows = 5, cols = 777;
        float *x = randoms(rows * cols, -10, 10), *y = malloc(sizeof(float) * rows * cols);
        double *want = malloc(sizeof(double) * rows * cols);
        for (int i = 0; i < cols; i++) x[4 * cols + i] = -INFINITY;
        x[2 * cols + 5] = -INFINITY;
        for (int r = 0; r < rows; r++) {
            double mx = -INFINITY, sum = 0;
            for (int i = 0; i < cols; i++) mx = fmax(mx, 0.3 * x[r * cols + i]);
            for (int i = 0; i < cols; i++) sum += want[r * cols + i] = mx == -INFINITY ? 0 : exp(0.3 * x[r * cols + i] - mx);
            for (int i = 0; i < cols; i++) want[r * cols + i] = sum > 0 ? want[r * cols + i] / sum : 0;
        }
        specula_buffer *xb = dev_from(x, sizeof(float) * rows * cols);
        OK(specula_softmax(S, xb, 0, rows, cols, 0.3f));
        down(xb, y, sizeof(float) * rows * cols);
        compare("softmax", y, want, rows * cols, 1e-7, 1e-5);
        specula_buffer_free(xb);
        free(x), free(y), free(want);
    }
    /* embedding of every type: a bad id gives a zero row and the sticky error */
    CHECK(kernel_errors() == 0, "kernel errors before the embedding test");
    for (int t = 0; t <= REF_N_TYPES - (metal_backend ? 1 : 0); t++) {
        /* every type, then F32 rows of 100 (the element-wise edge path; not on Metal) */
        const int type = t < REF_N_TYPES ? REF_TYPES[t] : REF_F32, rows = 11, dim = t < REF_N_TYPES ? 512 : 100, n = 6;
        const int32_t ids[6] = {3, 0, 10, 11, -1, 7};
        const size_t rb = ref_row_bytes(type, dim);
        uint8_t *table = malloc(rows * rb);
        for (int r = 0; r < rows; r++) ref_random_row(type, dim, table + r * rb);
        float *y = malloc(sizeof(float) * n * dim), *row = malloc(sizeof(float) * dim);
        double *want = calloc((size_t)n * dim, sizeof(double));
        for (int i = 0; i < n; i++) {
            if (ids[i] < 0 || ids[i] >= rows) continue;
            ref_dequantize_row(type, table + ids[i] * rb, dim, row);
            for (int k = 0; k < dim; k++) want[i * dim + k] = row[k];
        }
        specula_buffer *tb = dev_from(table, rows * rb), *ib = dev_from(ids, sizeof ids), *yb = dev(sizeof(float) * n * dim);
        OK(specula_embedding(S, type, tb, 0, rows, dim, ib, 0, n, yb, 0));
        down(yb, y, sizeof(float) * n * dim);
        char what[64];
        snprintf(what, sizeof what, "embedding %s, rows of %d", ref_type_name(type), dim);
        compare(what, y, want, (size_t)n * dim, 1e-6, 1e-6);
        const int32_t e = kernel_errors();
        CHECK(e == 1, "%s: kernel errors %d, want 1 (SPECULA_KERNEL_ERROR_EMBEDDING_ID)", what, e);
        CHECK(kernel_errors() == 0, "%s: kernel errors not cleared", what);
        specula_buffer_free(tb), specula_buffer_free(ib), specula_buffer_free(yb);
        free(table), free(y), free(row), free(want);
    }
    printf("rms_norm, add, swiglu, softmax, embedding checked\n");
}

/* ---- RoPE, as java/dev/specula/engine/Rope.java ---- */

static void rope_reference(const specula_rope_params *p, float *x, const int32_t *pos, const float *ff) {
    const int half = p->rope_dim / 2;
    float lo = 0, hi = 0, mag = p->attn_factor;
    if (p->ext_factor != 0) {
        const float two_pi = 2 * 3.14159265358979323846f, lb = 2 * (float)log(p->freq_base);
        lo = fmaxf(0, floorf(p->rope_dim * (float)log(p->n_ctx_orig / (p->beta_fast * two_pi)) / lb));
        hi = fminf((float)(p->rope_dim - 1), ceilf(p->rope_dim * (float)log(p->n_ctx_orig / (p->beta_slow * two_pi)) / lb));
        mag = p->attn_factor * (1 + 0.1f * (float)log(1 / p->freq_scale));
    }
    for (int t = 0; t < p->n_tokens; t++) {
        for (int i = 0; i < half; i++) {
            double f = pow(p->freq_base, -2.0 * i / p->rope_dim) / (ff ? ff[i] : 1.0), mix = 0;
            if (p->ext_factor != 0) {
                const double y = (i - (double)lo) / fmax(0.001, (double)hi - lo);
                mix = (1 - fmin(1, fmax(0, y))) * p->ext_factor;
            }
            f *= p->freq_scale * (1 - mix) + mix;
            const float theta = (float)pos[t] * (float)f;
            const float c = (float)(cos(theta) * mag), s = (float)(sin(theta) * mag);
            for (int h = 0; h < p->n_heads; h++) {
                float *v = x + ((size_t)t * p->n_heads + h) * p->head_dim;
                const int a = p->mode == SPECULA_ROPE_NEOX ? i : 2 * i, b = p->mode == SPECULA_ROPE_NEOX ? i + half : 2 * i + 1;
                const float x0 = v[a], x1 = v[b];
                v[a] = x0 * c - x1 * s;
                v[b] = x0 * s + x1 * c;
            }
        }
    }
}

static void rope_case(const char *what, specula_rope_params p, int with_factors) {
    const int32_t pos[4] = {0, 17, 4999, 12345};
    const size_t n = (size_t)p.n_tokens * p.n_heads * p.head_dim;
    float *x = randoms(n, -1, 1), *ref = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
    float *ff = with_factors ? randoms(p.rope_dim / 2, 1, 8) : NULL;
    double *want = malloc(sizeof(double) * n);
    memcpy(ref, x, sizeof(float) * n);
    rope_reference(&p, ref, pos, ff);
    for (size_t i = 0; i < n; i++) want[i] = ref[i];
    specula_buffer *xb = dev_from(x, sizeof(float) * n), *pb = dev_from(pos, sizeof pos);
    specula_buffer *fb = ff ? dev_from(ff, sizeof(float) * (p.rope_dim / 2)) : NULL;
    OK(specula_rope(S, &p, xb, 0, pb, 0, fb, 0));
    down(xb, y, sizeof(float) * n);
    /* Metal: the angle in float is within 2 ulps of the reference's at the largest position (12345). */
    compare(what, y, want, n, metal_backend ? 2e-5 + 2 * 12345.0 * 1.1920929e-7 : 2e-5, 2e-5);
    specula_buffer_free(xb), specula_buffer_free(pb), specula_buffer_free(fb);
    free(x), free(ref), free(y), free(ff), free(want);
}

static void test_rope(void) {
    specula_rope_params p = {4, 3, 64, 64, SPECULA_ROPE_NORM, 10000.0f, 1.0f, 0.0f, 1.0f, 32.0f, 1.0f, 0};
    rope_case("rope NORM", p, 0);
    p.mode = SPECULA_ROPE_NEOX;
    rope_case("rope NEOX", p, 0);
    p.head_dim = 128, p.rope_dim = 64, p.freq_base = 500000.0f;
    rope_case("rope NEOX, 64 of 128 rotated, frequency factors", p, 1);
    p.mode = SPECULA_ROPE_NORM, p.freq_scale = 0.25f;
    rope_case("rope NORM, 64 of 128 rotated, linear scaling", p, 0);
    p.mode = SPECULA_ROPE_NEOX, p.head_dim = 128, p.rope_dim = 128, p.freq_base = 1000000.0f, p.ext_factor = 1.0f;
    p.attn_factor = 1.0f / (1.0f + 0.1f * logf(4.0f)) * (0.1f * logf(4.0f) + 1.0f), p.n_ctx_orig = 4096;
    rope_case("rope NEOX YaRN (factor 4)", p, 0);
    p.mode = SPECULA_ROPE_NORM, p.n_heads = 5, p.head_dim = 80, p.rope_dim = 48;
    rope_case("rope NORM YaRN, 48 of 80 rotated", p, 1);
    specula_rope_params bad = p;
    bad.rope_dim = 82;
    specula_buffer *b = dev(1 << 16);
    CHECK(specula_rope(S, &bad, b, 0, b, 0, NULL, 0) == SPECULA_ERROR_INVALID_ARGUMENT, "rope_dim > head_dim accepted");
    specula_buffer_free(b);
    printf("rope checked\n");
}

static void test_kv_store(void) {
    const int n = 3, kv_dim = 200, ctx = 10;
    const int32_t pos[3] = {2, 9, 10};
    float *k = randoms(n * kv_dim, -3, 3), *v = randoms(n * kv_dim, -3, 3);
    uint16_t *ck = malloc(2 * ctx * kv_dim), *cv = malloc(2 * ctx * kv_dim);
    specula_buffer *kb = dev_from(k, 4 * n * kv_dim), *vb = dev_from(v, 4 * n * kv_dim), *pb = dev_from(pos, sizeof pos);
    specula_buffer *ckb = dev(2 * ctx * kv_dim), *cvb = dev(2 * ctx * kv_dim);
    OK(specula_buffer_fill(ckb, 0, 2 * ctx * kv_dim, 0x11, S));
    OK(specula_buffer_fill(cvb, 0, 2 * ctx * kv_dim, 0x22, S));
    OK(specula_kv_store(S, kb, 0, vb, 0, n, kv_dim, ckb, 0, cvb, 0, ctx, pb, 0));
    down(ckb, ck, 2 * ctx * kv_dim);
    down(cvb, cv, 2 * ctx * kv_dim);
    size_t bad = 0;
    for (int r = 0; r < ctx; r++) {
        const int t = r == 2 ? 0 : r == 9 ? 1 : -1;
        for (int i = 0; i < kv_dim; i++) {
            const uint16_t wk = t < 0 ? 0x1111 : ref_float_to_half(k[t * kv_dim + i]);
            const uint16_t wv = t < 0 ? 0x2222 : ref_float_to_half(v[t * kv_dim + i]);
            bad += ck[r * kv_dim + i] != wk || cv[r * kv_dim + i] != wv;
        }
    }
    CHECK(bad == 0, "kv_store: %zu cache entries differ", bad);
    const int32_t e = kernel_errors();
    CHECK(e == 2, "kv_store at position 10 of 10: kernel errors %d, want 2 (SPECULA_KERNEL_ERROR_KV_POSITION)", e);
    specula_buffer_free(kb), specula_buffer_free(vb), specula_buffer_free(pb), specula_buffer_free(ckb), specula_buffer_free(cvb);
    free(k), free(v), free(ck), free(cv);
    printf("kv_store, fill checked\n");
}

/* ---- attention ---- */

/* Causal GQA attention in double with queries rounded to F16; a bad position gives zeros. */
static void attention_reference(const specula_attention_params *p, const float *q, const uint16_t *ck, const uint16_t *cv,
                                const int32_t *pos, double *out) {
    const int D = p->head_dim, group = p->n_heads / p->n_kv_heads, kv = p->n_kv_heads * D;
    double *s = malloc(sizeof(double) * p->ctx_size);
    for (int t = 0; t < p->n_tokens; t++) {
        for (int h = 0; h < p->n_heads; h++) {
            double *o = out + ((size_t)t * p->n_heads + h) * D;
            for (int d = 0; d < D; d++) o[d] = 0;
            if (pos[t] < 0 || pos[t] >= p->ctx_size) continue;
            const float *qr = q + ((size_t)t * p->n_heads + h) * D;
            const int g = h / group;
            double mx = -INFINITY, sum = 0;
            for (int j = 0; j <= pos[t]; j++) {
                double dot = 0;
                for (int d = 0; d < D; d++) dot += (double)ref_round_half(qr[d]) * ref_half_to_float(ck[(size_t)j * kv + g * D + d]);
                s[j] = dot * p->scale;
                mx = fmax(mx, s[j]);
            }
            for (int j = 0; j <= pos[t]; j++) sum += s[j] = exp(s[j] - mx);
            for (int j = 0; j <= pos[t]; j++) {
                for (int d = 0; d < D; d++) o[d] += s[j] / sum * ref_half_to_float(cv[(size_t)j * kv + g * D + d]);
            }
        }
    }
    free(s);
}

/* Queries at positions first, first + 1, ... (shuffled when asked: rows need not be in order). */
static void attention_case_ordered(int n_tokens, int n_heads, int n_kv, int D, int ctx, int first, int bad_row, int shuffle);

static void attention_case(int n_tokens, int n_heads, int n_kv, int D, int ctx, int first, int bad_row) {
    attention_case_ordered(n_tokens, n_heads, n_kv, D, ctx, first, bad_row, 0);
}

static void attention_case_ordered(int n_tokens, int n_heads, int n_kv, int D, int ctx, int first, int bad_row, int shuffle) {
    specula_attention_params p = {n_tokens, n_heads, n_kv, D, ctx, 1.0f / sqrtf((float)D)};
    const size_t qn = (size_t)n_tokens * n_heads * D, cn = (size_t)ctx * n_kv * D;
    float *q = randoms(qn, -2, 2), *got = malloc(sizeof(float) * qn);
    uint16_t *ck = malloc(2 * cn), *cv = malloc(2 * cn);
    for (size_t i = 0; i < cn; i++) ck[i] = ref_float_to_half(ref_uniform(-2, 2)), cv[i] = ref_float_to_half(ref_uniform(-1, 1));
    int32_t *pos = malloc(sizeof(int32_t) * n_tokens);
    for (int i = 0; i < n_tokens; i++) pos[i] = first + i < ctx ? first + i : ctx - 1;
    for (int i = n_tokens - 1; shuffle && i > 0; i--) {
        const int j = (int)(ref_next() % (uint32_t)(i + 1)), t = pos[i];
        pos[i] = pos[j];
        pos[j] = t;
    }
    if (bad_row >= 0) pos[bad_row] = ctx;
    double *want = malloc(sizeof(double) * qn);
    attention_reference(&p, q, ck, cv, pos, want);
    specula_buffer *qb = dev_from(q, 4 * qn), *kb = dev_from(ck, 2 * cn), *vb = dev_from(cv, 2 * cn), *pb = dev_from(pos, 4 * n_tokens);
    specula_buffer *ob = dev(4 * qn), *scratch = dev(specula_attention_plain_scratch(&p));
    char what[128];
    snprintf(what, sizeof what, "flash attention %d tokens from %d, %d/%d heads, head_dim %d, ctx %d", n_tokens, first, n_heads, n_kv, D, ctx);
    OK(specula_flash_attention(S, &p, qb, 0, kb, 0, vb, 0, pb, 0, ob, 0));
    down(ob, got, 4 * qn);
    compare(what, got, want, qn, 4e-3, 4e-3); /* probabilities go through F16 on the tensor cores */
    int32_t e = kernel_errors();
    CHECK(e == (bad_row >= 0 ? 2 : 0), "%s: kernel errors %d", what, e);
    snprintf(what, sizeof what, "plain attention %d tokens from %d, %d/%d heads, head_dim %d, ctx %d", n_tokens, first, n_heads, n_kv, D, ctx);
    OK(specula_attention_plain(S, &p, qb, 0, kb, 0, vb, 0, pb, 0, scratch, 0, ob, 0));
    down(ob, got, 4 * qn);
    compare(what, got, want, qn, 2e-5, 2e-5);
    e = kernel_errors();
    CHECK(e == (bad_row >= 0 ? 2 : 0), "%s: kernel errors %d", what, e);
    specula_buffer_free(qb), specula_buffer_free(kb), specula_buffer_free(vb), specula_buffer_free(pb), specula_buffer_free(ob);
    specula_buffer_free(scratch);
    free(q), free(got), free(ck), free(cv), free(pos), free(want);
}

static void test_attention(void) {
    const int dims[4] = {64, 80, 96, 128};
    for (int i = 0; i < 4; i++) {
        const int D = dims[i];
        attention_case(37, 4, 2, D, 100, 50, -1);   /* prefill, partial tiles, GQA 2 */
        attention_case(70, 2, 1, D, 70, 0, 5);      /* prefill from 0 (causal), one bad position */
        attention_case(5, 8, 2, D, 300, 7, -1);     /* smallest prefill */
        attention_case(1, 8, 2, D, 5000, 4900, -1); /* decode, 20 key ranges */
        attention_case(4, 4, 4, D, 700, 100, 2);    /* decode of 4 rows (verification), no GQA, a bad position */
        printf("attention head_dim %d checked\n", D);
    }
    attention_case(3, 32, 8, 128, 16384, 16381, -1); /* long-context decode: 32 ranges of 512 keys */
    attention_case(33, 4, 1, 64, 64, 31, -1);         /* one row past a query tile, keys up to the last row */
    attention_case_ordered(40, 4, 2, 128, 200, 100, -1, 1); /* positions out of order */
    attention_case_ordered(3, 4, 2, 96, 1000, 500, -1, 1);
    specula_attention_params p = {1, 4, 2, 72, 16, 0.1f};
    specula_buffer *b = dev(1 << 16);
    CHECK(specula_flash_attention(S, &p, b, 0, b, 0, b, 0, b, 0, b, 0) == SPECULA_ERROR_UNSUPPORTED, "flash head_dim 72 accepted");
    p.head_dim = 64, p.n_kv_heads = 3;
    CHECK(specula_attention_plain(S, &p, b, 0, b, 0, b, 0, b, 0, b, 0, b, 0) == SPECULA_ERROR_INVALID_ARGUMENT, "4 heads over 3 KV heads accepted");
    specula_buffer_free(b);
}

/* ---- a recorded decode step replayed at new positions ---- */

typedef struct step_buffers {
    specula_buffer *q0, *q, *k0, *k, *v, *ck, *cv, *pos, *out, *w, *y;
} step_buffers;

enum { ST_HEADS = 8, ST_KV = 2, ST_D = 128, ST_CTX = 600, ST_ROWS = 96 };

static void queue_step(step_buffers *b) {
    const specula_rope_params rq = {1, ST_HEADS, ST_D, ST_D, SPECULA_ROPE_NEOX, 10000.0f, 1.0f, 0.0f, 1.0f, 32.0f, 1.0f, 0};
    const specula_rope_params rk = {1, ST_KV, ST_D, ST_D, SPECULA_ROPE_NEOX, 10000.0f, 1.0f, 0.0f, 1.0f, 32.0f, 1.0f, 0};
    const specula_attention_params ap = {1, ST_HEADS, ST_KV, ST_D, ST_CTX, 1.0f / sqrtf((float)ST_D)};
    OK(specula_buffer_copy(b->q, 0, b->q0, 0, 4 * ST_HEADS * ST_D, S));
    OK(specula_buffer_copy(b->k, 0, b->k0, 0, 4 * ST_KV * ST_D, S));
    OK(specula_rope(S, &rq, b->q, 0, b->pos, 0, NULL, 0));
    OK(specula_rope(S, &rk, b->k, 0, b->pos, 0, NULL, 0));
    OK(specula_kv_store(S, b->k, 0, b->v, 0, 1, ST_KV * ST_D, b->ck, 0, b->cv, 0, ST_CTX, b->pos, 0));
    OK(specula_flash_attention(S, &ap, b->q, 0, b->ck, 0, b->cv, 0, b->pos, 0, b->out, 0));
    OK(specula_gemv(S, REF_Q8_0, b->w, 0, ST_ROWS, ST_HEADS * ST_D, b->out, 0, 1, b->y, 0));
}

static void test_graph(void) {
    const size_t cn = (size_t)ST_CTX * ST_KV * ST_D, rb = ref_row_bytes(REF_Q8_0, ST_HEADS * ST_D);
    float *q = randoms(ST_HEADS * ST_D, -1, 1), *k = randoms(ST_KV * ST_D, -1, 1), *v = randoms(ST_KV * ST_D, -1, 1);
    uint16_t *cache = malloc(2 * cn);
    for (size_t i = 0; i < cn; i++) cache[i] = ref_float_to_half(ref_uniform(-1, 1));
    uint8_t *w = malloc(ST_ROWS * rb);
    for (int r = 0; r < ST_ROWS; r++) ref_random_row(REF_Q8_0, ST_HEADS * ST_D, w + r * rb);
    step_buffers b = {dev_from(q, 4 * ST_HEADS * ST_D), dev(4 * ST_HEADS * ST_D), dev_from(k, 4 * ST_KV * ST_D), dev(4 * ST_KV * ST_D),
                      dev_from(v, 4 * ST_KV * ST_D), dev_from(cache, 2 * cn), dev_from(cache, 2 * cn), dev(4), dev(4 * ST_HEADS * ST_D),
                      dev_from(w, ST_ROWS * rb), dev(4 * ST_ROWS)};
    specula_graph *g = NULL;
    OK(specula_graph_begin(S));
    CHECK(specula_graph_begin(S) == SPECULA_ERROR_INVALID_ARGUMENT, "graph_begin while recording accepted");
    queue_step(&b);
    OK(specula_graph_end(S, &g));
    specula_graph *again = NULL;
    CHECK(specula_graph_end(S, &again) == SPECULA_ERROR_INVALID_ARGUMENT && again == NULL, "graph_end while not recording accepted");
    float replayed[ST_ROWS], direct[ST_ROWS], first[ST_ROWS];
    const int32_t positions[3] = {10, 599, 300};
    for (int i = 0; i < 3; i++) {
        OK(specula_buffer_upload(b.pos, 0, &positions[i], 4, S));
        OK(specula_graph_launch(g, S));
        down(b.y, replayed, sizeof replayed);
        queue_step(&b);
        down(b.y, direct, sizeof direct);
        CHECK(memcmp(replayed, direct, sizeof direct) == 0, "replay at position %d differs from direct launches", positions[i]);
        if (i == 0) memcpy(first, replayed, sizeof first);
        else CHECK(memcmp(first, replayed, sizeof first) != 0, "replay at position %d gives what position 10 gave", positions[i]);
    }
    CHECK(kernel_errors() == 0, "graph: kernel errors");
    /* events around a replay */
    specula_event *e0 = NULL, *e1 = NULL;
    OK(specula_event_create(0, &e0));
    OK(specula_event_create(0, &e1));
    OK(specula_event_record(e0, S));
    OK(specula_graph_launch(g, S));
    OK(specula_event_record(e1, S));
    float ms = -1;
    OK(specula_event_elapsed(e0, e1, &ms));
    CHECK(ms >= 0 && ms < 10000, "elapsed %g ms", ms);
    OK(specula_event_destroy(e0));
    OK(specula_event_destroy(e1));
    OK(specula_graph_destroy(g));
    specula_buffer *all[] = {b.q0, b.q, b.k0, b.k, b.v, b.ck, b.cv, b.pos, b.out, b.w, b.y};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) specula_buffer_free(all[i]);
    free(q), free(k), free(v), free(cache), free(w);
    printf("graph record and replay, events checked\n");
}

static void test_copy(void) {
    enum { N = 1000 };
    unsigned char src[N], dst[N];
    for (int i = 0; i < N; i++) src[i] = (unsigned char)(i * 7 + 3);
    specula_buffer *a = dev_from(src, N), *b = dev(N);
    OK(specula_buffer_fill(b, 0, N, 0xab, S));
    OK(specula_buffer_copy(b, 3, a, 1, 500, S));
    down(b, dst, N);
    int bad = 0;
    for (int i = 0; i < N; i++) bad += dst[i] != (i >= 3 && i < 503 ? src[i - 2] : 0xab);
    CHECK(bad == 0, "copy/fill: %d bytes differ", bad);
    CHECK(specula_buffer_copy(b, 600, a, 0, 500, S) == SPECULA_ERROR_INVALID_ARGUMENT, "copy past the end accepted");
    CHECK(specula_buffer_fill(b, 0, 10, 256, S) == SPECULA_ERROR_INVALID_ARGUMENT, "fill value 256 accepted");
    specula_buffer_free(a), specula_buffer_free(b);
    printf("copy checked\n");
}

static void test_registered(int can_map) {
    if (!can_map) {
        printf("registered weights: skipped, the device cannot map host memory\n");
        return;
    }
    registered_weights = 1;
    matmul_case(REF_Q4_0, 37, 512, 3, 0);
    matmul_case(REF_Q4_K, 37, 512, 2, 0);
    matmul_case(REF_Q8_0, 70, 512, 20, 1);
    registered_weights = 0;
    printf("GEMV and GEMM on registered host memory checked\n");
}

/* ---- mixture of experts (ABI 2.1) ---- */

/* MixtureOfExperts.route: softmax (sum in double), top k (ties to the lower id), optional renormalisation. */
static void route_reference(const float *logits, int n_experts, int k, int normalize, int32_t *ids, float *weights) {
    float max = -INFINITY, *p = malloc(sizeof(float) * n_experts);
    int *taken = calloc(n_experts, sizeof(int));
    for (int e = 0; e < n_experts; e++) max = fmaxf(max, logits[e]);
    double sum = 0;
    for (int e = 0; e < n_experts; e++) sum += p[e] = expf(logits[e] - max);
    const float inv = (float)(1.0 / sum);
    for (int e = 0; e < n_experts; e++) p[e] *= inv;
    for (int s = 0; s < k; s++) {
        int best = -1;
        for (int e = 0; e < n_experts; e++) if (!taken[e] && (best < 0 || p[e] > p[best])) best = e;
        taken[best] = 1;
        ids[s] = best;
        weights[s] = p[best];
    }
    if (normalize) {
        float total = 0;
        for (int s = 0; s < k; s++) total += weights[s];
        total = fmaxf(total, 6.103515625e-5f);
        for (int s = 0; s < k; s++) weights[s] /= total;
    }
    free(p);
    free(taken);
}

static void route_case(int n_tokens, int n_experts, int k, int normalize) {
    float *logits = randoms((size_t)n_tokens * n_experts, -4, 4), *w = malloc(sizeof(float) * n_tokens * k);
    for (int e = 0; e < n_experts; e++) logits[e] = 0.5f; /* token 0: all tied, the lowest ids win */
    int32_t *ids = malloc(sizeof(int32_t) * n_tokens * k), *want_ids = malloc(sizeof(int32_t) * n_tokens * k);
    double *want_w = malloc(sizeof(double) * n_tokens * k);
    float *tw = malloc(sizeof(float) * k);
    for (int t = 0; t < n_tokens; t++) {
        route_reference(logits + (size_t)t * n_experts, n_experts, k, normalize, want_ids + (size_t)t * k, tw);
        for (int s = 0; s < k; s++) want_w[(size_t)t * k + s] = tw[s];
    }
    specula_buffer *lb = dev_from(logits, sizeof(float) * n_tokens * n_experts), *ib = dev(4ull * n_tokens * k), *wb = dev(4ull * n_tokens * k);
    const specula_moe_route_params p = {n_tokens, n_experts, k, normalize};
    OK(specula_moe_route(S, &p, lb, 0, ib, 0, wb, 0));
    down(ib, ids, 4ull * n_tokens * k);
    down(wb, w, 4ull * n_tokens * k);
    int bad = 0;
    for (int i = 0; i < n_tokens * k; i++) bad += ids[i] != want_ids[i];
    CHECK(bad == 0, "moe_route %d tokens, %d experts, k %d, normalize %d: %d of %d ids differ (first token: %d, want %d)", n_tokens,
          n_experts, k, normalize, bad, n_tokens * k, ids[0], want_ids[0]);
    char what[96];
    snprintf(what, sizeof what, "moe_route weights %d experts k %d normalize %d", n_experts, k, normalize);
    compare(what, w, want_w, (size_t)n_tokens * k, 1e-6, 1e-5);
    specula_buffer_free(lb);
    specula_buffer_free(ib);
    specula_buffer_free(wb);
    free(logits);
    free(w);
    free(ids);
    free(want_ids);
    free(want_w);
    free(tw);
}

/* y[t][s] = W[ids[t][s]] x[t or (t, s)], with an id out of range in the last pair when bad_id. */
static void experts_case(int type, int n_experts, int64_t rows, int64_t cols, int n_tokens, int k, int x_per_slot, int bad_id) {
    const size_t rb = ref_row_bytes(type, cols), pairs = (size_t)n_tokens * k, x_rows = x_per_slot ? pairs : (size_t)n_tokens;
    uint8_t *w = malloc((size_t)n_experts * rows * rb);
    float *wf = malloc(sizeof(float) * n_experts * rows * cols), *x = randoms(x_rows * cols, -1, 1), *y = malloc(sizeof(float) * pairs * rows);
    double *want = malloc(sizeof(double) * pairs * rows);
    int32_t *ids = malloc(sizeof(int32_t) * pairs);
    for (int64_t r = 0; r < n_experts * rows; r++) {
        ref_random_row(type, cols, w + r * rb);
        ref_dequantize_row(type, w + r * rb, cols, wf + r * cols);
    }
    for (size_t p = 0; p < pairs; p++) ids[p] = (int32_t)((p * 7 + 3) % n_experts);
    if (bad_id) ids[pairs - 1] = n_experts;
    double worst_mag = 0;
    for (size_t p = 0; p < pairs; p++) {
        const float *xr = x + (x_per_slot ? p : p / k) * cols;
        for (int64_t r = 0; r < rows; r++) {
            double sum = 0, m = 0;
            if (ids[p] < n_experts) {
                for (int64_t c = 0; c < cols; c++) {
                    const double a = wf[((size_t)ids[p] * rows + r) * cols + c] * (double)xr[c];
                    sum += a;
                    m += fabs(a);
                }
            }
            want[p * rows + r] = sum;
            if (m > worst_mag) worst_mag = m;
        }
    }
    specula_buffer *wb = dev_from(w, (size_t)n_experts * rows * rb), *xb = dev_from(x, sizeof(float) * x_rows * cols);
    specula_buffer *ib = dev_from(ids, 4 * pairs), *yb = dev(sizeof(float) * pairs * rows);
    kernel_errors();
    OK(specula_gemv_experts(S, type, wb, 0, n_experts, rows, cols, xb, 0, x_per_slot, ib, 0, n_tokens, k, yb, 0));
    down(yb, y, sizeof(float) * pairs * rows);
    char what[128];
    snprintf(what, sizeof what, "gemv_experts %s %d x %lldx%lld, %d tokens, k %d, x_per_slot %d", ref_type_name(type), n_experts,
             (long long)rows, (long long)cols, n_tokens, k, x_per_slot);
    compare(what, y, want, pairs * rows, 1e-4 * worst_mag + 1e-6, 0);
    const int32_t e = kernel_errors();
    CHECK(e == (bad_id ? 4 : 0), "%s: kernel errors %d, want %d", what, e, bad_id ? 4 : 0);
    specula_buffer_free(wb);
    specula_buffer_free(xb);
    specula_buffer_free(ib);
    specula_buffer_free(yb);
    free(w);
    free(wf);
    free(x);
    free(y);
    free(want);
    free(ids);
}

static void combine_case(int n_tokens, int k, int dim, int with_shared) {
    float *x = randoms((size_t)n_tokens * k * dim, -1, 1), *w = randoms((size_t)n_tokens * k, 0, 1);
    float *sh = randoms((size_t)n_tokens * dim, -1, 1), *g = randoms(n_tokens, -3, 3), *y = malloc(sizeof(float) * n_tokens * dim);
    g[0] = 0; /* sigmoid(0) = 1/2, where llama.cpp's silu(g) / g is 0/0 */
    double *want = malloc(sizeof(double) * n_tokens * dim);
    for (int t = 0; t < n_tokens; t++) {
        const double sig = 1.0 / (1.0 + exp(-(double)g[t]));
        for (int i = 0; i < dim; i++) {
            double o = 0;
            for (int s = 0; s < k; s++) o += (double)x[((size_t)t * k + s) * dim + i] * w[(size_t)t * k + s];
            if (with_shared) o += sig * sh[(size_t)t * dim + i];
            want[(size_t)t * dim + i] = o;
        }
    }
    specula_buffer *xb = dev_from(x, sizeof(float) * n_tokens * k * dim), *wb = dev_from(w, sizeof(float) * n_tokens * k);
    specula_buffer *sb = dev_from(sh, sizeof(float) * n_tokens * dim), *gb = dev_from(g, sizeof(float) * n_tokens);
    specula_buffer *yb = dev(sizeof(float) * n_tokens * dim);
    OK(specula_moe_combine(S, xb, 0, wb, 0, n_tokens, k, dim, with_shared ? sb : NULL, 0, with_shared ? gb : NULL, 0, yb, 0));
    down(yb, y, sizeof(float) * n_tokens * dim);
    char what[96];
    snprintf(what, sizeof what, "moe_combine %d tokens, k %d, dim %d, shared %d", n_tokens, k, dim, with_shared);
    compare(what, y, want, (size_t)n_tokens * dim, 1e-5, 1e-5);
    specula_buffer_free(xb);
    specula_buffer_free(wb);
    specula_buffer_free(sb);
    specula_buffer_free(gb);
    specula_buffer_free(yb);
    free(x);
    free(w);
    free(sh);
    free(g);
    free(y);
    free(want);
}

/* Routing and an expert product recorded once, replayed after new logits are uploaded: the replay
 * routes the new logits and reads the experts they choose (what a MoE decode step relies on). */
static void moe_graph_case(void) {
    const int n_experts = 16, k = 2, rows = 24, cols = 64;
    const size_t rb = ref_row_bytes(REF_Q8_0, cols);
    uint8_t *w = malloc((size_t)n_experts * rows * rb);
    float *wf = malloc(sizeof(float) * n_experts * rows * cols), *x = randoms(cols, -1, 1), y[2 * 24], tw[2];
    for (int r = 0; r < n_experts * rows; r++) {
        ref_random_row(REF_Q8_0, cols, w + r * rb);
        ref_dequantize_row(REF_Q8_0, w + r * rb, cols, wf + (size_t)r * cols);
    }
    float *first = randoms(n_experts, -4, 4), *second = randoms(n_experts, -4, 4);
    specula_buffer *wb = dev_from(w, (size_t)n_experts * rows * rb), *xb = dev_from(x, sizeof(float) * cols);
    specula_buffer *lb = dev_from(first, sizeof(float) * n_experts), *ib = dev(4 * k), *pb = dev(4 * k), *yb = dev(sizeof y);
    const specula_moe_route_params p = {1, n_experts, k, 1};
    specula_graph *g = NULL;
    OK(specula_graph_begin(S));
    OK(specula_moe_route(S, &p, lb, 0, ib, 0, pb, 0));
    OK(specula_gemv_experts(S, REF_Q8_0, wb, 0, n_experts, rows, cols, xb, 0, 0, ib, 0, 1, k, yb, 0));
    OK(specula_graph_end(S, &g));
    OK(specula_buffer_upload(lb, 0, second, sizeof(float) * n_experts, NULL));
    OK(specula_graph_launch(g, S));
    down(yb, y, sizeof y);
    int32_t want_ids[2];
    route_reference(second, n_experts, k, 1, want_ids, tw);
    double want[2 * 24], mag = 0;
    for (int s = 0; s < k; s++) {
        for (int r = 0; r < rows; r++) {
            double sum = 0;
            for (int c = 0; c < cols; c++) {
                const double a = wf[((size_t)want_ids[s] * rows + r) * cols + c] * (double)x[c];
                sum += a;
                mag = fmax(mag, fabs(a));
            }
            want[s * rows + r] = sum;
        }
    }
    compare("moe graph replayed on new logits", y, want, (size_t)k * rows, 1e-4 * cols * mag + 1e-6, 0);
    OK(specula_graph_destroy(g));
    specula_buffer *all[] = {wb, xb, lb, ib, pb, yb};
    for (int i = 0; i < 6; i++) specula_buffer_free(all[i]);
    free(w);
    free(wf);
    free(x);
    free(first);
    free(second);
}

static void test_moe(void) {
    if (metal_backend) { /* no MoE kernels on Metal: every entry point says so, in one line */
        specula_buffer *b = dev(4096);
        const specula_moe_route_params rp = {1, 4, 2, 1};
        CHECK(specula_moe_route(S, &rp, b, 0, b, 1024, b, 2048) == SPECULA_ERROR_UNSUPPORTED, "moe_route on Metal not UNSUPPORTED");
        CHECK(strstr(specula_last_error(), "mixture-of-experts") != NULL, "moe_route's message: %s", specula_last_error());
        specula_buffer_free(b);
        printf("moe: UNSUPPORTED on this backend, as documented\n");
        return;
    }
    route_case(5, 8, 2, 0);
    route_case(5, 8, 2, 1);
    route_case(9, 60, 4, 1);   /* qwen2moe's 60 experts */
    route_case(3, 128, 8, 1);  /* qwen3moe's 128, k 8 */
    route_case(2, 256, 1, 0);
    for (int t = 0; t < REF_N_TYPES; t++) {
        const int type = REF_TYPES[t];
        experts_case(type, 5, 37, 512, 1, 2, 0, 0);
        experts_case(type, 5, 37, 512, 3, 2, 1, 0);
        experts_case(type, 6, 20, 256, 9, 4, 0, 1); /* a batch, and an id out of range */
        if (ref_plain_bytes(type)) experts_case(type, 3, 17, 97, 2, 2, 1, 0); /* the edge path */
    }
    combine_case(1, 8, 2048, 0);
    combine_case(7, 2, 300, 1);
    moe_graph_case();
    /* Arguments: k above the expert count, shared without its gate. */
    specula_buffer *b = dev(4096);
    const specula_moe_route_params bad = {1, 4, 5, 0};
    CHECK(specula_moe_route(S, &bad, b, 0, b, 0, b, 0) == SPECULA_ERROR_INVALID_ARGUMENT, "route k 5 of 4 experts accepted");
    CHECK(specula_moe_combine(S, b, 0, b, 0, 1, 2, 4, b, 0, NULL, 0, b, 2048) == SPECULA_ERROR_INVALID_ARGUMENT,
          "combine with shared but no shared_gate accepted");
    CHECK(specula_gemv_experts(S, REF_Q4_K, b, 0, 2, 2, 100, b, 0, 0, b, 0, 1, 1, b, 0) == SPECULA_ERROR_INVALID_ARGUMENT,
          "gemv_experts with Q4_K rows of 100 accepted");
    specula_buffer_free(b);
}

int main(void) {
    int32_t count = 0;
    if (specula_device_count(&count) != SPECULA_OK || count == 0) {
        printf("test_cuda_kernels: skipped, no CUDA device (%s)\n", specula_last_error());
        return 77;
    }
    specula_device_info info;
    OK(specula_device_get_info(0, &info));
    printf("device 0: %s, sm_%d%d\n", info.name, info.compute_major, info.compute_minor);
    OK(specula_stream_create(0, &S));
    const char *backend = getenv("SPECULA_TEST_BACKEND");
    metal_backend = backend != NULL && strcmp(backend, "metal") == 0;
    if (metal_backend) printf("backend: metal (its documented differences apply, see metal_backend)\n");
    test_copy();
    test_matmul_arguments();
    test_matmul();
    test_registered(info.can_map_host_memory);
    test_ops();
    test_rope();
    test_kv_store();
    test_attention();
    test_graph();
    test_moe();
    OK(specula_stream_destroy(S));
    printf("%s: %d failure%s\n", failures ? "FAILED" : "passed", failures, failures == 1 ? "" : "s");
    return failures == 0 ? 0 : 1;
}
