/* Argument checks and launch shapes of every kernel entry point, for metal_runtime.m. */
#include "metal_plan.h"
#include "specula_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *const specula_metal_kernel_names[] = {
    "gemv_f32", "gemv_f16", "gemv_bf16", "gemv_q4_0", "gemv_q8_0", "gemv_q4_k", "gemv_q5_k", "gemv_q6_k",
    "gemm_f32", "gemm_f16", "gemm_bf16", "gemm_q4_0", "gemm_q8_0", "gemm_q4_k", "gemm_q5_k", "gemm_q6_k",
    "embedding_f32", "embedding_f16", "embedding_bf16", "embedding_q4_0", "embedding_q8_0", "embedding_q4_k",
    "embedding_q5_k", "embedding_q6_k",
    "rms_norm", "add", "swiglu", "softmax", "rope", "kv_store",
    "flash_attn_prefill", "flash_attn_decode", "flash_attn_merge", "attn_scores", "attn_output",
    "copy_bytes", NULL};

typedef struct format {
    int32_t type;
    const char *suffix;
    int32_t block;        /* weights per block */
    int32_t block_bytes;
} format;

static const format FORMATS[] = {
    {SPECULA_TYPE_F32, "f32", 32, 128},  {SPECULA_TYPE_F16, "f16", 32, 64},   {SPECULA_TYPE_BF16, "bf16", 32, 64},
    {SPECULA_TYPE_Q4_0, "q4_0", 32, 18}, {SPECULA_TYPE_Q8_0, "q8_0", 32, 34}, {SPECULA_TYPE_Q4_K, "q4_k", 256, 144},
    {SPECULA_TYPE_Q5_K, "q5_k", 256, 176}, {SPECULA_TYPE_Q6_K, "q6_k", 256, 210},
};

static const format *format_of(int32_t type) {
    for (size_t i = 0; i < sizeof FORMATS / sizeof FORMATS[0]; i++) {
        if (FORMATS[i].type == type) return &FORMATS[i];
    }
    return NULL;
}

const char *specula_metal_kernel_name(const char *family, int32_t type) {
    const format *f = format_of(type);
    if (f == NULL) return NULL;
    for (int i = 0; specula_metal_kernel_names[i] != NULL; i++) {
        const char *k = specula_metal_kernel_names[i];
        size_t n = strlen(family);
        if (strncmp(k, family, n) == 0 && k[n] == '_' && strcmp(k + n + 1, f->suffix) == 0) return k;
    }
    return NULL;
}

uint64_t specula_metal_row_bytes(int32_t type, int64_t cols) {
    const format *f = format_of(type);
    if (f == NULL || cols <= 0 || cols % f->block != 0) return 0;
    return (uint64_t)(cols / f->block) * (uint64_t)f->block_bytes;
}

_Static_assert(sizeof(specula_rope_args) <= SPECULA_METAL_MAX_ARGS_BYTES, "argument struct too large");
_Static_assert(sizeof(specula_attention_args) <= SPECULA_METAL_MAX_ARGS_BYTES, "argument struct too large");

static uint32_t ceil_div(uint64_t a, uint64_t b) { return (uint32_t)((a + b - 1) / b); }

/* [offset, offset + bytes) must lie in the buffer, offset aligned to `align`. */
static int32_t need(const specula_buffer *b, uint64_t offset, uint64_t bytes, uint64_t align, const char *what) {
    if (b == NULL) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "%s: buffer is NULL", what);
    if (offset % align != 0) {
        return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "%s: offset %llu is not a multiple of %llu", what,
                            (unsigned long long)offset, (unsigned long long)align);
    }
    if (offset > b->bytes || bytes > b->bytes - offset) {
        return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "%s: [%llu, %llu + %llu) is outside the buffer of %llu bytes",
                            what, (unsigned long long)offset, (unsigned long long)offset, (unsigned long long)bytes,
                            (unsigned long long)b->bytes);
    }
    return SPECULA_OK;
}

#define NEED(b, off, bytes, align, what)                         \
    do {                                                         \
        int32_t s_ = need((b), (off), (bytes), (align), (what)); \
        if (s_ != SPECULA_OK) return s_;                         \
    } while (0)

static specula_metal_step *step(specula_metal_plan *plan, const char *kernel, const void *args, uint32_t args_bytes) {
    specula_metal_step *s = &plan->steps[plan->n_steps++];
    memset(s, 0, sizeof *s);
    s->kind = SPECULA_METAL_DISPATCH;
    s->kernel = kernel;
    s->groups[0] = s->groups[1] = s->groups[2] = 1;
    s->threads[0] = s->threads[1] = s->threads[2] = 1;
    if (args_bytes > 0) memcpy(s->args, args, args_bytes);
    s->args_bytes = args_bytes;
    return s;
}

static void bind(specula_metal_step *s, const specula_buffer *b, uint64_t offset) {
    s->bindings[s->n_bindings].buffer = b;
    s->bindings[s->n_bindings].offset = offset;
    s->bindings[s->n_bindings].scratch = b == NULL;
    s->n_bindings++;
}

static void grid(specula_metal_step *s, uint32_t gx, uint32_t gy, uint32_t gz, uint32_t threads) {
    s->groups[0] = gx;
    s->groups[1] = gy;
    s->groups[2] = gz;
    s->threads[0] = threads;
}

static void begin(specula_metal_plan *plan) { memset(plan, 0, sizeof *plan); }

static int32_t matmul(specula_metal_plan *plan, const char *family, int32_t max_n, int32_t type,
                      const specula_buffer *w, uint64_t w_offset, int64_t rows, int64_t cols, const specula_buffer *x,
                      uint64_t x_offset, int32_t n, specula_buffer *y, uint64_t y_offset) {
    const char *kernel = specula_metal_kernel_name(family, type);
    if (kernel == NULL) return specula_fail(SPECULA_ERROR_UNSUPPORTED, "specula_%s: GGML type %d is not supported", family, type);
    uint64_t row_bytes = specula_metal_row_bytes(type, cols);
    if (rows <= 0 || rows > INT32_MAX || row_bytes == 0 || cols % SPECULA_UNIT != 0 || row_bytes > INT32_MAX) {
        return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "specula_%s: %lld x %lld is not a matrix of whole %d-weight units of type %d",
                            family, (long long)rows, (long long)cols, SPECULA_UNIT, type);
    }
    if (n < 1 || n > max_n) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "specula_%s: n = %d (1 .. %d)", family, n, max_n);
    NEED(w, w_offset, (uint64_t)rows * row_bytes, 2, "weights");
    NEED(x, x_offset, (uint64_t)n * (uint64_t)cols * 4, 16, "x");
    NEED(y, y_offset, (uint64_t)n * (uint64_t)rows * 4, 4, "y");
    begin(plan);
    specula_matmul_args a = {(int32_t)rows, (int32_t)cols, n, (int32_t)row_bytes};
    specula_metal_step *s = step(plan, kernel, &a, sizeof a);
    bind(s, w, w_offset);
    bind(s, x, x_offset);
    bind(s, y, y_offset);
    if (strcmp(family, "gemv") == 0) {
        grid(s, ceil_div((uint64_t)rows, SPECULA_GEMV_ROWS_PER_GROUP), 1, 1, 32 * SPECULA_GEMV_ROWS_PER_GROUP);
    } else {
        grid(s, ceil_div((uint64_t)rows, SPECULA_GEMM_TILE_M), ceil_div((uint64_t)n, SPECULA_GEMM_TILE_N), 1, 32 * SPECULA_GEMM_SIMDGROUPS);
    }
    return SPECULA_OK;
}

int32_t specula_metal_plan_gemv(specula_metal_plan *plan, int32_t type, const specula_buffer *w, uint64_t w_offset,
                                int64_t rows, int64_t cols, const specula_buffer *x, uint64_t x_offset, int32_t n,
                                specula_buffer *y, uint64_t y_offset) {
    return matmul(plan, "gemv", SPECULA_GEMV_MAX_N, type, w, w_offset, rows, cols, x, x_offset, n, y, y_offset);
}

int32_t specula_metal_plan_gemm(specula_metal_plan *plan, int32_t type, const specula_buffer *w, uint64_t w_offset,
                                int64_t rows, int64_t cols, const specula_buffer *x, uint64_t x_offset, int32_t n,
                                specula_buffer *y, uint64_t y_offset) {
    return matmul(plan, "gemm", INT32_MAX, type, w, w_offset, rows, cols, x, x_offset, n, y, y_offset);
}

int32_t specula_metal_plan_rms_norm(specula_metal_plan *plan, const specula_buffer *x, uint64_t x_offset,
                                    const specula_buffer *weight, uint64_t weight_offset, specula_buffer *y,
                                    uint64_t y_offset, int32_t n_rows, int32_t dim, float eps) {
    if (n_rows < 1 || dim < 1) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "specula_rms_norm: %d rows of %d", n_rows, dim);
    NEED(x, x_offset, (uint64_t)n_rows * dim * 4, 4, "x");
    NEED(weight, weight_offset, (uint64_t)dim * 4, 4, "weight");
    NEED(y, y_offset, (uint64_t)n_rows * dim * 4, 4, "y");
    begin(plan);
    specula_rms_norm_args a = {n_rows, dim, eps};
    specula_metal_step *s = step(plan, "rms_norm", &a, sizeof a);
    bind(s, x, x_offset);
    bind(s, weight, weight_offset);
    bind(s, y, y_offset);
    grid(s, (uint32_t)n_rows, 1, 1, SPECULA_ROW_THREADS);
    return SPECULA_OK;
}

static int32_t elementwise(specula_metal_plan *plan, const char *kernel, const specula_buffer *a, uint64_t a_offset,
                           const specula_buffer *b, uint64_t b_offset, specula_buffer *y, uint64_t y_offset, int64_t n) {
    if (n < 1 || n > INT32_MAX) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "specula_%s: n = %lld (1 .. 2^31-1)", kernel, (long long)n);
    NEED(a, a_offset, (uint64_t)n * 4, 4, "first operand");
    NEED(b, b_offset, (uint64_t)n * 4, 4, "second operand");
    NEED(y, y_offset, (uint64_t)n * 4, 4, "y");
    begin(plan);
    specula_elementwise_args args = {(int32_t)n};
    specula_metal_step *s = step(plan, kernel, &args, sizeof args);
    bind(s, a, a_offset);
    bind(s, b, b_offset);
    bind(s, y, y_offset);
    grid(s, ceil_div((uint64_t)n, SPECULA_ELEMENT_THREADS), 1, 1, SPECULA_ELEMENT_THREADS);
    return SPECULA_OK;
}

int32_t specula_metal_plan_add(specula_metal_plan *plan, const specula_buffer *a, uint64_t a_offset,
                               const specula_buffer *b, uint64_t b_offset, specula_buffer *y, uint64_t y_offset, int64_t n) {
    return elementwise(plan, "add", a, a_offset, b, b_offset, y, y_offset, n);
}

int32_t specula_metal_plan_swiglu(specula_metal_plan *plan, const specula_buffer *gate, uint64_t gate_offset,
                                  const specula_buffer *up, uint64_t up_offset, specula_buffer *y, uint64_t y_offset, int64_t n) {
    return elementwise(plan, "swiglu", gate, gate_offset, up, up_offset, y, y_offset, n);
}

int32_t specula_metal_plan_softmax(specula_metal_plan *plan, specula_buffer *x, uint64_t x_offset, int32_t n_rows,
                                   int32_t n_cols, float scale) {
    if (n_rows < 1 || n_cols < 1) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "specula_softmax: %d rows of %d", n_rows, n_cols);
    NEED(x, x_offset, (uint64_t)n_rows * n_cols * 4, 4, "x");
    begin(plan);
    specula_softmax_args a = {n_rows, n_cols, scale};
    specula_metal_step *s = step(plan, "softmax", &a, sizeof a);
    bind(s, x, x_offset);
    grid(s, (uint32_t)n_rows, 1, 1, SPECULA_ROW_THREADS);
    return SPECULA_OK;
}

int32_t specula_metal_plan_embedding(specula_metal_plan *plan, int32_t type, const specula_buffer *table,
                                     uint64_t table_offset, int64_t rows, int32_t dim, const specula_buffer *ids,
                                     uint64_t ids_offset, int32_t n, specula_buffer *y, uint64_t y_offset) {
    const char *kernel = specula_metal_kernel_name("embedding", type);
    if (kernel == NULL) return specula_fail(SPECULA_ERROR_UNSUPPORTED, "specula_embedding: GGML type %d is not supported", type);
    uint64_t row_bytes = specula_metal_row_bytes(type, dim);
    if (rows < 1 || rows > INT32_MAX || row_bytes == 0 || dim % SPECULA_UNIT != 0 || n < 1) {
        return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "specula_embedding: %lld rows of %d (whole %d-weight units), %d ids",
                            (long long)rows, dim, SPECULA_UNIT, n);
    }
    NEED(table, table_offset, (uint64_t)rows * row_bytes, 2, "table");
    NEED(ids, ids_offset, (uint64_t)n * 4, 4, "ids");
    NEED(y, y_offset, (uint64_t)n * dim * 4, 4, "y");
    begin(plan);
    specula_embedding_args a = {(int32_t)rows, dim, n, (int32_t)row_bytes};
    specula_metal_step *s = step(plan, kernel, &a, sizeof a);
    bind(s, table, table_offset);
    bind(s, ids, ids_offset);
    bind(s, y, y_offset);
    s->uses_errors = 1;
    grid(s, (uint32_t)n, 1, 1, SPECULA_ROW_THREADS);
    return SPECULA_OK;
}

/* YaRN's corrected dimension range, as ggml_rope_yarn_corr_dims computes it. */
static void yarn_corr_dims(int32_t n_dims, int32_t n_ctx_orig, float base, float beta_fast, float beta_slow, float out[2]) {
    const float two_pi = 6.28318530717958647692f;
    float start = floorf((float)n_dims * logf((float)n_ctx_orig / (beta_fast * two_pi)) / (2.0f * logf(base)));
    float end = ceilf((float)n_dims * logf((float)n_ctx_orig / (beta_slow * two_pi)) / (2.0f * logf(base)));
    out[0] = fmaxf(0.0f, start);
    out[1] = fminf((float)(n_dims - 1), end);
}

int32_t specula_metal_plan_rope(specula_metal_plan *plan, const specula_rope_params *p, specula_buffer *x,
                                uint64_t x_offset, const specula_buffer *positions, uint64_t positions_offset,
                                const specula_buffer *freq_factors, uint64_t freq_factors_offset) {
    if (p == NULL) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "specula_rope: params is NULL");
    if (p->n_tokens < 1 || p->n_heads < 1 || p->head_dim < 2 || p->rope_dim < 2 || p->rope_dim > p->head_dim ||
        p->rope_dim % 2 != 0 || (p->mode != SPECULA_ROPE_NORM && p->mode != SPECULA_ROPE_NEOX) || !(p->freq_base > 0.0f)) {
        return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "specula_rope: n_tokens %d, n_heads %d, head_dim %d, rope_dim %d, mode %d, base %g",
                            p->n_tokens, p->n_heads, p->head_dim, p->rope_dim, p->mode, (double)p->freq_base);
    }
    NEED(x, x_offset, (uint64_t)p->n_tokens * p->n_heads * p->head_dim * 4, 4, "x");
    NEED(positions, positions_offset, (uint64_t)p->n_tokens * 4, 4, "positions");
    if (freq_factors != NULL) NEED(freq_factors, freq_factors_offset, (uint64_t)(p->rope_dim / 2) * 4, 4, "freq_factors");
    begin(plan);
    specula_rope_args a;
    memset(&a, 0, sizeof a);
    a.n_tokens = p->n_tokens;
    a.n_heads = p->n_heads;
    a.head_dim = p->head_dim;
    a.rope_dim = p->rope_dim;
    a.mode = p->mode;
    a.freq_base = p->freq_base;
    a.freq_scale = p->freq_scale;
    a.ext_factor = p->ext_factor;
    /* The rotation's magnitude, YaRN's factor included, as cuda/src/rope.cuh computes it (the log in
     * double, rounded to float): the kernel multiplies by it. */
    a.attn_factor = p->attn_factor;
    if (p->ext_factor != 0.0f) a.attn_factor = p->attn_factor * (1.0f + 0.1f * (float)log((double)(1.0f / p->freq_scale)));
    float corr[2] = {0.0f, 0.0f};
    if (p->ext_factor != 0.0f) yarn_corr_dims(p->rope_dim, p->n_ctx_orig, p->freq_base, p->beta_fast, p->beta_slow, corr);
    a.corr_low = corr[0];
    a.corr_high = corr[1];
    a.has_freq_factors = freq_factors != NULL;
    specula_metal_step *s = step(plan, "rope", &a, sizeof a);
    bind(s, x, x_offset);
    bind(s, positions, positions_offset);
    /* Without factors the slot still needs a buffer: positions stands in, unread. */
    bind(s, freq_factors != NULL ? freq_factors : positions, freq_factors != NULL ? freq_factors_offset : positions_offset);
    grid(s, ceil_div((uint64_t)p->n_heads * (p->rope_dim / 2), SPECULA_ELEMENT_THREADS), (uint32_t)p->n_tokens, 1,
         SPECULA_ELEMENT_THREADS);
    return SPECULA_OK;
}

int32_t specula_metal_plan_kv_store(specula_metal_plan *plan, const specula_buffer *k, uint64_t k_offset,
                                    const specula_buffer *v, uint64_t v_offset, int32_t n_tokens, int32_t kv_dim,
                                    specula_buffer *cache_k, uint64_t cache_k_offset, specula_buffer *cache_v,
                                    uint64_t cache_v_offset, int32_t ctx_size, const specula_buffer *positions,
                                    uint64_t positions_offset) {
    if (n_tokens < 1 || kv_dim < 1 || ctx_size < 1) {
        return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "specula_kv_store: %d tokens of %d into %d rows", n_tokens, kv_dim, ctx_size);
    }
    NEED(k, k_offset, (uint64_t)n_tokens * kv_dim * 4, 4, "k");
    NEED(v, v_offset, (uint64_t)n_tokens * kv_dim * 4, 4, "v");
    NEED(cache_k, cache_k_offset, (uint64_t)ctx_size * kv_dim * 2, 2, "cache_k");
    NEED(cache_v, cache_v_offset, (uint64_t)ctx_size * kv_dim * 2, 2, "cache_v");
    NEED(positions, positions_offset, (uint64_t)n_tokens * 4, 4, "positions");
    begin(plan);
    specula_kv_store_args a = {n_tokens, kv_dim, ctx_size};
    specula_metal_step *s = step(plan, "kv_store", &a, sizeof a);
    bind(s, k, k_offset);
    bind(s, v, v_offset);
    bind(s, cache_k, cache_k_offset);
    bind(s, cache_v, cache_v_offset);
    bind(s, positions, positions_offset);
    s->uses_errors = 1;
    grid(s, ceil_div((uint64_t)kv_dim, SPECULA_ELEMENT_THREADS), (uint32_t)n_tokens, 1, SPECULA_ELEMENT_THREADS);
    return SPECULA_OK;
}

static int32_t check_attention(const char *fn, const specula_attention_params *p, int32_t flash, const specula_buffer *q,
                               uint64_t q_offset, const specula_buffer *cache_k, uint64_t cache_k_offset,
                               const specula_buffer *cache_v, uint64_t cache_v_offset, const specula_buffer *positions,
                               uint64_t positions_offset, const specula_buffer *out, uint64_t out_offset) {
    if (p == NULL) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "%s: params is NULL", fn);
    if (p->n_tokens < 1 || p->n_heads < 1 || p->n_kv_heads < 1 || p->n_heads % p->n_kv_heads != 0 || p->head_dim < 1 || p->ctx_size < 1) {
        return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "%s: n_tokens %d, n_heads %d, n_kv_heads %d, head_dim %d, ctx_size %d", fn,
                            p->n_tokens, p->n_heads, p->n_kv_heads, p->head_dim, p->ctx_size);
    }
    if (flash && p->head_dim != 64 && p->head_dim != 80 && p->head_dim != 96 && p->head_dim != 128) {
        return specula_fail(SPECULA_ERROR_UNSUPPORTED, "%s: head_dim %d (64, 80, 96 or 128)", fn, p->head_dim);
    }
    uint64_t rows = (uint64_t)p->n_tokens * p->n_heads * p->head_dim;
    uint64_t cache = (uint64_t)p->ctx_size * p->n_kv_heads * p->head_dim * 2;
    NEED(q, q_offset, rows * 4, 4, "q");
    NEED(cache_k, cache_k_offset, cache, 2, "cache_k");
    NEED(cache_v, cache_v_offset, cache, 2, "cache_v");
    NEED(positions, positions_offset, (uint64_t)p->n_tokens * 4, 4, "positions");
    NEED(out, out_offset, rows * 4, 4, "out");
    return SPECULA_OK;
}

static specula_attention_args attention_args(const specula_attention_params *p) {
    specula_attention_args a;
    memset(&a, 0, sizeof a);
    a.n_tokens = p->n_tokens;
    a.n_heads = p->n_heads;
    a.n_kv_heads = p->n_kv_heads;
    a.head_dim = p->head_dim;
    a.ctx_size = p->ctx_size;
    a.scale = p->scale;
    return a;
}

int32_t specula_metal_plan_flash_attention(specula_metal_plan *plan, const specula_attention_params *p,
                                           const specula_buffer *q, uint64_t q_offset, const specula_buffer *cache_k,
                                           uint64_t cache_k_offset, const specula_buffer *cache_v,
                                           uint64_t cache_v_offset, const specula_buffer *positions,
                                           uint64_t positions_offset, specula_buffer *out, uint64_t out_offset) {
    int32_t st = check_attention("specula_flash_attention", p, 1, q, q_offset, cache_k, cache_k_offset, cache_v,
                                 cache_v_offset, positions, positions_offset, out, out_offset);
    if (st != SPECULA_OK) return st;
    begin(plan);
    specula_attention_args a = attention_args(p);
    if (p->n_tokens > SPECULA_FA_DECODE_MAX_TOKENS) {
        specula_metal_step *s = step(plan, "flash_attn_prefill", &a, sizeof a);
        s->uses_errors = 1;  /* positions outside the cache: SPECULA_KERNEL_ERROR_KV_POSITION */
        bind(s, q, q_offset);
        bind(s, cache_k, cache_k_offset);
        bind(s, cache_v, cache_v_offset);
        bind(s, positions, positions_offset);
        bind(s, out, out_offset);
        grid(s, ceil_div((uint64_t)p->n_tokens, SPECULA_FA_BLOCK_Q), (uint32_t)p->n_heads, 1, 32 * SPECULA_FA_SIMDGROUPS);
        return SPECULA_OK;
    }
    /* Split-K decode: the key ranges are fixed by ctx_size (positions are only known on the device,
     * so a recorded step replays at any position); ranges past a token's position are empty. */
    int32_t splits = (int32_t)ceil_div((uint64_t)p->ctx_size, SPECULA_FA_MIN_KEYS_PER_SPLIT);
    if (splits > SPECULA_FA_MAX_SPLITS) splits = SPECULA_FA_MAX_SPLITS;
    a.n_splits = splits;
    a.keys_per_split = (int32_t)ceil_div((uint64_t)p->ctx_size, (uint64_t)splits);
    plan->scratch_bytes = (uint64_t)p->n_tokens * p->n_heads * splits * (p->head_dim + 2) * 4;
    specula_metal_step *s = step(plan, "flash_attn_decode", &a, sizeof a);
    s->uses_errors = 1;  /* positions outside the cache: SPECULA_KERNEL_ERROR_KV_POSITION */
    bind(s, q, q_offset);
    bind(s, cache_k, cache_k_offset);
    bind(s, cache_v, cache_v_offset);
    bind(s, positions, positions_offset);
    bind(s, NULL, 0);
    grid(s, (uint32_t)splits, (uint32_t)p->n_heads, (uint32_t)p->n_tokens, 32 * SPECULA_FA_DECODE_SIMDGROUPS);
    s = step(plan, "flash_attn_merge", &a, sizeof a);
    bind(s, NULL, 0);
    bind(s, out, out_offset);
    grid(s, (uint32_t)p->n_heads, (uint32_t)p->n_tokens, 1, 32 * SPECULA_FA_DECODE_SIMDGROUPS);
    return SPECULA_OK;
}

uint64_t specula_metal_plain_scratch(const specula_attention_params *p) {
    if (p == NULL || p->n_tokens < 1 || p->n_heads < 1 || p->ctx_size < 1) return 0;
    return (uint64_t)p->n_tokens * p->n_heads * p->ctx_size * 4;
}

int32_t specula_metal_plan_attention_plain(specula_metal_plan *plan, const specula_attention_params *p,
                                           const specula_buffer *q, uint64_t q_offset, const specula_buffer *cache_k,
                                           uint64_t cache_k_offset, const specula_buffer *cache_v,
                                           uint64_t cache_v_offset, const specula_buffer *positions,
                                           uint64_t positions_offset, specula_buffer *scratch, uint64_t scratch_offset,
                                           specula_buffer *out, uint64_t out_offset) {
    int32_t st = check_attention("specula_attention_plain", p, 0, q, q_offset, cache_k, cache_k_offset, cache_v,
                                 cache_v_offset, positions, positions_offset, out, out_offset);
    if (st != SPECULA_OK) return st;
    NEED(scratch, scratch_offset, specula_metal_plain_scratch(p), 4, "scratch");
    if ((int64_t)p->n_tokens * p->n_heads > INT32_MAX) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "specula_attention_plain: too many rows");
    begin(plan);
    specula_attention_args a = attention_args(p);
    specula_metal_step *s = step(plan, "attn_scores", &a, sizeof a);
    bind(s, q, q_offset);
    bind(s, cache_k, cache_k_offset);
    bind(s, positions, positions_offset);
    bind(s, scratch, scratch_offset);
    s->uses_errors = 1;  /* a position outside the cache: SPECULA_KERNEL_ERROR_KV_POSITION, and a zero row */
    grid(s, ceil_div((uint64_t)p->ctx_size, SPECULA_ELEMENT_THREADS), (uint32_t)p->n_heads, (uint32_t)p->n_tokens, SPECULA_ELEMENT_THREADS);
    specula_softmax_args sm = {p->n_tokens * p->n_heads, p->ctx_size, 1.0f};
    s = step(plan, "softmax", &sm, sizeof sm);
    bind(s, scratch, scratch_offset);
    grid(s, (uint32_t)(p->n_tokens * p->n_heads), 1, 1, SPECULA_ROW_THREADS);
    s = step(plan, "attn_output", &a, sizeof a);
    bind(s, scratch, scratch_offset);
    bind(s, cache_v, cache_v_offset);
    bind(s, positions, positions_offset);
    bind(s, out, out_offset);
    grid(s, ceil_div((uint64_t)p->head_dim, 128), (uint32_t)p->n_heads, (uint32_t)p->n_tokens, 128);
    return SPECULA_OK;
}

int32_t specula_metal_plan_copy(specula_metal_plan *plan, specula_buffer *dst, uint64_t dst_offset,
                                const specula_buffer *src, uint64_t src_offset, uint64_t bytes) {
    NEED(src, src_offset, bytes, 1, "source");
    NEED(dst, dst_offset, bytes, 1, "destination");
    begin(plan);
    if (bytes == 0) return SPECULA_OK;
    if (dst_offset % 4 == 0 && src_offset % 4 == 0 && bytes % 4 == 0) {
        specula_metal_step *s = step(plan, NULL, NULL, 0);
        s->kind = SPECULA_METAL_BLIT_COPY;
        bind(s, src, src_offset);
        bind(s, dst, dst_offset);
        s->blit_bytes = bytes;
        return SPECULA_OK;
    }
    /* The blit encoder wants multiples of 4 bytes on macOS: a byte kernel takes the rest. */
    if (bytes > INT32_MAX) return specula_fail(SPECULA_ERROR_UNSUPPORTED, "specula_buffer_copy: an unaligned copy of more than 2^31-1 bytes");
    specula_elementwise_args a = {(int32_t)bytes};
    specula_metal_step *s = step(plan, "copy_bytes", &a, sizeof a);
    bind(s, src, src_offset);
    bind(s, dst, dst_offset);
    grid(s, ceil_div(bytes, SPECULA_ELEMENT_THREADS), 1, 1, SPECULA_ELEMENT_THREADS);
    return SPECULA_OK;
}

int32_t specula_metal_plan_fill(specula_metal_plan *plan, specula_buffer *buffer, uint64_t offset, uint64_t bytes, int32_t value) {
    NEED(buffer, offset, bytes, 1, "buffer");
    if (value < 0 || value > 255) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "specula_buffer_fill: value %d is not a byte", value);
    begin(plan);
    if (bytes == 0) return SPECULA_OK;
    specula_metal_step *s = step(plan, NULL, NULL, 0);
    s->kind = SPECULA_METAL_BLIT_FILL;
    bind(s, buffer, offset);
    s->blit_bytes = bytes;
    s->fill_value = (uint32_t)value;
    return SPECULA_OK;
}

int32_t specula_metal_check_host_range(const specula_buffer *b, uint64_t offset, uint64_t bytes, const void *host) {
    if (b == NULL || host == NULL) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "buffer or host pointer is NULL");
    if (offset > b->bytes || bytes > b->bytes - offset) {
        return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "range [%llu, %llu + %llu) is outside the buffer of %llu bytes",
                            (unsigned long long)offset, (unsigned long long)offset, (unsigned long long)bytes,
                            (unsigned long long)b->bytes);
    }
    return SPECULA_OK;
}
