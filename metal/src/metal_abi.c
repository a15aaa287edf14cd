/* The kernel entry points of specula.h on Metal, as plans (metal_plan.c) handed to
 * specula_metal_submit: metal_runtime.m's on Apple, metal/emu's on the CPU elsewhere, so the
 * same entry points serve both. Plain C. */
#include "specula.h"
#include "specula_internal.h"
#include "metal_plan.h"

#include <stddef.h>

#define SPECULA_SUBMIT(stream, plan_call)                        \
    do {                                                         \
        if ((stream) == NULL) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "stream is NULL"); \
        specula_metal_plan plan_;                                \
        int32_t status_ = plan_call;                             \
        return status_ == SPECULA_OK ? specula_metal_submit((stream), &plan_) : status_; \
    } while (0)

int32_t specula_buffer_copy(specula_buffer *dst, uint64_t dst_offset, const specula_buffer *src, uint64_t src_offset,
                            uint64_t bytes, specula_stream *stream) {
    SPECULA_SUBMIT(stream, specula_metal_plan_copy(&plan_, dst, dst_offset, src, src_offset, bytes));
}

int32_t specula_buffer_fill(specula_buffer *buffer, uint64_t offset, uint64_t bytes, int32_t value, specula_stream *stream) {
    SPECULA_SUBMIT(stream, specula_metal_plan_fill(&plan_, buffer, offset, bytes, value));
}

/* ---- kernels ---------------------------------------------------------------------------- */

int32_t specula_type_supported(int32_t type) { return specula_metal_kernel_name("gemv", type) != NULL; }

int32_t specula_gemv(specula_stream *stream, int32_t type, const specula_buffer *w, uint64_t w_offset, int64_t rows, int64_t cols,
                     const specula_buffer *x, uint64_t x_offset, int32_t n, specula_buffer *y, uint64_t y_offset) {
    SPECULA_SUBMIT(stream, specula_metal_plan_gemv(&plan_, type, w, w_offset, rows, cols, x, x_offset, n, y, y_offset));
}

int32_t specula_gemm(specula_stream *stream, int32_t type, const specula_buffer *w, uint64_t w_offset, int64_t rows, int64_t cols,
                     const specula_buffer *x, uint64_t x_offset, int32_t n, specula_buffer *y, uint64_t y_offset) {
    SPECULA_SUBMIT(stream, specula_metal_plan_gemm(&plan_, type, w, w_offset, rows, cols, x, x_offset, n, y, y_offset));
}

int32_t specula_rms_norm(specula_stream *stream, const specula_buffer *x, uint64_t x_offset, const specula_buffer *weight,
                         uint64_t weight_offset, specula_buffer *y, uint64_t y_offset, int32_t n_rows, int32_t dim, float eps) {
    SPECULA_SUBMIT(stream, specula_metal_plan_rms_norm(&plan_, x, x_offset, weight, weight_offset, y, y_offset, n_rows, dim, eps));
}

int32_t specula_add(specula_stream *stream, const specula_buffer *a, uint64_t a_offset, const specula_buffer *b, uint64_t b_offset,
                    specula_buffer *y, uint64_t y_offset, int64_t n) {
    SPECULA_SUBMIT(stream, specula_metal_plan_add(&plan_, a, a_offset, b, b_offset, y, y_offset, n));
}

int32_t specula_swiglu(specula_stream *stream, const specula_buffer *gate, uint64_t gate_offset, const specula_buffer *up,
                       uint64_t up_offset, specula_buffer *y, uint64_t y_offset, int64_t n) {
    SPECULA_SUBMIT(stream, specula_metal_plan_swiglu(&plan_, gate, gate_offset, up, up_offset, y, y_offset, n));
}

int32_t specula_softmax(specula_stream *stream, specula_buffer *x, uint64_t x_offset, int32_t n_rows, int32_t n_cols, float scale) {
    SPECULA_SUBMIT(stream, specula_metal_plan_softmax(&plan_, x, x_offset, n_rows, n_cols, scale));
}

int32_t specula_embedding(specula_stream *stream, int32_t type, const specula_buffer *table, uint64_t table_offset, int64_t rows,
                          int32_t dim, const specula_buffer *ids, uint64_t ids_offset, int32_t n, specula_buffer *y, uint64_t y_offset) {
    SPECULA_SUBMIT(stream, specula_metal_plan_embedding(&plan_, type, table, table_offset, rows, dim, ids, ids_offset, n, y, y_offset));
}

int32_t specula_rope(specula_stream *stream, const specula_rope_params *params, specula_buffer *x, uint64_t x_offset,
                     const specula_buffer *positions, uint64_t positions_offset, const specula_buffer *freq_factors,
                     uint64_t freq_factors_offset) {
    SPECULA_SUBMIT(stream, specula_metal_plan_rope(&plan_, params, x, x_offset, positions, positions_offset, freq_factors, freq_factors_offset));
}

int32_t specula_kv_store(specula_stream *stream, const specula_buffer *k, uint64_t k_offset, const specula_buffer *v, uint64_t v_offset,
                         int32_t n_tokens, int32_t kv_dim, specula_buffer *cache_k, uint64_t cache_k_offset, specula_buffer *cache_v,
                         uint64_t cache_v_offset, int32_t ctx_size, const specula_buffer *positions, uint64_t positions_offset) {
    SPECULA_SUBMIT(stream, specula_metal_plan_kv_store(&plan_, k, k_offset, v, v_offset, n_tokens, kv_dim, cache_k, cache_k_offset,
                                                       cache_v, cache_v_offset, ctx_size, positions, positions_offset));
}

int32_t specula_flash_attention(specula_stream *stream, const specula_attention_params *params, const specula_buffer *q, uint64_t q_offset,
                                const specula_buffer *cache_k, uint64_t cache_k_offset, const specula_buffer *cache_v,
                                uint64_t cache_v_offset, const specula_buffer *positions, uint64_t positions_offset,
                                specula_buffer *out, uint64_t out_offset) {
    SPECULA_SUBMIT(stream, specula_metal_plan_flash_attention(&plan_, params, q, q_offset, cache_k, cache_k_offset, cache_v, cache_v_offset,
                                                              positions, positions_offset, out, out_offset));
}

uint64_t specula_attention_plain_scratch(const specula_attention_params *params) { return specula_metal_plain_scratch(params); }

int32_t specula_attention_plain(specula_stream *stream, const specula_attention_params *params, const specula_buffer *q, uint64_t q_offset,
                                const specula_buffer *cache_k, uint64_t cache_k_offset, const specula_buffer *cache_v,
                                uint64_t cache_v_offset, const specula_buffer *positions, uint64_t positions_offset,
                                specula_buffer *scratch, uint64_t scratch_offset, specula_buffer *out, uint64_t out_offset) {
    SPECULA_SUBMIT(stream, specula_metal_plan_attention_plain(&plan_, params, q, q_offset, cache_k, cache_k_offset, cache_v, cache_v_offset,
                                                              positions, positions_offset, scratch, scratch_offset, out, out_offset));
}

/* ABI 2.1's mixture-of-experts functions have no Metal kernels yet: every call says so, in one
 * line, and callers keep a MoE model's experts on the CPU (--cpu-moe) on Apple Silicon. */
static int32_t moe_unsupported(const char *fn) {
    return specula_fail(SPECULA_ERROR_UNSUPPORTED,
                        "%s: the Metal backend has no mixture-of-experts kernels yet; keep the experts on the CPU (--cpu-moe)", fn);
}

int32_t specula_moe_route(specula_stream *stream, const specula_moe_route_params *params, const specula_buffer *logits,
                          uint64_t logits_offset, specula_buffer *ids, uint64_t ids_offset, specula_buffer *weights,
                          uint64_t weights_offset) {
    (void)stream, (void)params, (void)logits, (void)logits_offset, (void)ids, (void)ids_offset, (void)weights, (void)weights_offset;
    return moe_unsupported("specula_moe_route");
}

int32_t specula_gemv_experts(specula_stream *stream, int32_t type, const specula_buffer *w, uint64_t w_offset, int32_t n_experts,
                             int64_t rows, int64_t cols, const specula_buffer *x, uint64_t x_offset, int32_t x_per_slot,
                             const specula_buffer *ids, uint64_t ids_offset, int32_t n_tokens, int32_t k, specula_buffer *y,
                             uint64_t y_offset) {
    (void)stream, (void)type, (void)w, (void)w_offset, (void)n_experts, (void)rows, (void)cols, (void)x, (void)x_offset;
    (void)x_per_slot, (void)ids, (void)ids_offset, (void)n_tokens, (void)k, (void)y, (void)y_offset;
    return moe_unsupported("specula_gemv_experts");
}

int32_t specula_moe_combine(specula_stream *stream, const specula_buffer *x, uint64_t x_offset, const specula_buffer *weights,
                            uint64_t weights_offset, int32_t n_tokens, int32_t k, int32_t dim, const specula_buffer *shared,
                            uint64_t shared_offset, const specula_buffer *shared_gate, uint64_t shared_gate_offset,
                            specula_buffer *y, uint64_t y_offset) {
    (void)stream, (void)x, (void)x_offset, (void)weights, (void)weights_offset, (void)n_tokens, (void)k, (void)dim, (void)shared;
    (void)shared_offset, (void)shared_gate, (void)shared_gate_offset, (void)y, (void)y_offset;
    return moe_unsupported("specula_moe_combine");
}

