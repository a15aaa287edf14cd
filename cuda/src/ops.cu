// The fused small ops of specula.h: RMSNorm, residual add, SwiGLU, softmax, embedding lookup, RoPE
// (NORM and NEOX, linear and YaRN scaling, frequency factors) and the F16 KV-cache store.
// Semantics are those of the CPU twins (java/dev/specula/engine, tests' EmulatedCuda); the Metal
// twin is metal/kernels/ops.metal.
#include "cuda_internal.cuh"
#include "quants.cuh"
#include "rope.cuh"

#include <cuda_fp16.h>
#include <cmath>

namespace {

constexpr int ROW_THREADS = SPECULA_ROW_THREADS, ELEMENT_THREADS = SPECULA_ELEMENT_THREADS;

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// The sum (or max) of v over the ROW_THREADS threads of the block, given to all of them.
__device__ float block_sum(float v, float *scratch) {
    v = warp_sum(v);
    if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
    __syncthreads();
    float total = 0.0f;
#pragma unroll
    for (int i = 0; i < ROW_THREADS / 32; i++) total += scratch[i];
    __syncthreads();
    return total;
}

__device__ float block_max(float v, float *scratch) {
    v = warp_max(v);
    if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
    __syncthreads();
    float best = -INFINITY;
#pragma unroll
    for (int i = 0; i < ROW_THREADS / 32; i++) best = fmaxf(best, scratch[i]);
    __syncthreads();
    return best;
}

__global__ void __launch_bounds__(ROW_THREADS) rms_norm_kernel(const float *x, const float *weight, float *y, int dim, float eps) {
    __shared__ float scratch[ROW_THREADS / 32];
    const float *xr = x + (size_t)blockIdx.x * dim;
    float *yr = y + (size_t)blockIdx.x * dim;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < dim; i += ROW_THREADS) ss += xr[i] * xr[i];
    const float inv = 1.0f / sqrtf(block_sum(ss, scratch) / (float)dim + eps);
    for (int i = threadIdx.x; i < dim; i += ROW_THREADS) yr[i] = xr[i] * inv * weight[i];
}

__global__ void add_kernel(const float *a, const float *b, float *y, int64_t n) {
    const int64_t i = (int64_t)blockIdx.x * ELEMENT_THREADS + threadIdx.x;
    if (i < n) y[i] = a[i] + b[i];
}

__global__ void swiglu_kernel(const float *gate, const float *up, float *y, int64_t n) {
    const int64_t i = (int64_t)blockIdx.x * ELEMENT_THREADS + threadIdx.x;
    if (i >= n) return;
    const float g = gate[i];
    y[i] = g / (1.0f + expf(-g)) * up[i];
}

// In place, one block per row: x = softmax(x * scale). A row of -inf only (nothing visible) gives 0.
__global__ void __launch_bounds__(ROW_THREADS) softmax_kernel(float *x, int n_cols, float scale) {
    __shared__ float scratch[ROW_THREADS / 32];
    float *xr = x + (size_t)blockIdx.x * n_cols;
    float mx = -INFINITY;
    for (int i = threadIdx.x; i < n_cols; i += ROW_THREADS) mx = fmaxf(mx, xr[i] * scale);
    mx = block_max(mx, scratch);
    float sum = 0.0f;
    for (int i = threadIdx.x; i < n_cols; i += ROW_THREADS) {
        const float e = mx == -INFINITY ? 0.0f : expf(xr[i] * scale - mx);
        xr[i] = e;
        sum += e;
    }
    sum = block_sum(sum, scratch);
    const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
    for (int i = threadIdx.x; i < n_cols; i += ROW_THREADS) xr[i] *= inv;
}

// One block per id: y[t] = table row ids[t], each thread one 32-weight unit at a time. An id
// outside the table writes a zero row and raises SPECULA_KERNEL_ERROR_EMBEDDING_ID.
template <typename F>
__global__ void __launch_bounds__(ROW_THREADS) embedding_kernel(const uint8_t *table, int64_t rows, size_t row_bytes, int dim,
                                                                const int32_t *ids, float *y, unsigned int *errors) {
    const int t = blockIdx.x;
    const int32_t id = ids[t];
    const bool bad = id < 0 || id >= rows;
    if (bad && threadIdx.x == 0) atomicOr(errors, (unsigned int)SPECULA_KERNEL_ERROR_EMBEDDING_ID);
    float *yr = y + (size_t)t * dim;
    const uint8_t *row = table + (size_t)(bad ? 0 : id) * row_bytes;
    for (int u = threadIdx.x; u < dim / SPECULA_UNIT; u += ROW_THREADS) {
        for (int h = 0; h < 2; h++) {
            float v[16];
            if (bad) {
#pragma unroll
                for (int i = 0; i < 16; i++) v[i] = 0.0f;
            } else {
                F::part(row, u, h, v);
            }
            float *out = yr + u * SPECULA_UNIT + 16 * h;
#pragma unroll
            for (int i = 0; i < 16; i++) out[i] = v[i];
        }
    }
}

// Plain tables whose rows are not whole aligned units: one element per thread step.
template <typename F>
__global__ void __launch_bounds__(ROW_THREADS) embedding_edge_kernel(const uint8_t *table, int64_t rows, size_t row_bytes, int dim,
                                                                     const int32_t *ids, float *y, unsigned int *errors) {
    const int t = blockIdx.x;
    const int32_t id = ids[t];
    const bool bad = id < 0 || id >= rows;
    if (bad && threadIdx.x == 0) atomicOr(errors, (unsigned int)SPECULA_KERNEL_ERROR_EMBEDDING_ID);
    const uint8_t *row = table + (size_t)(bad ? 0 : id) * row_bytes;
    for (int c = threadIdx.x; c < dim; c += ROW_THREADS) y[(size_t)t * dim + c] = bad ? 0.0f : F::element(row, c);
}

// One thread per rotated pair of one head of one token (grid.y = token), in place (rope.cuh).
__global__ void rope_kernel(specula::rope_args a, float *x, const int32_t *positions, const float *freq_factors) {
    const int pairs = a.rope_dim / 2, i = blockIdx.x * ELEMENT_THREADS + threadIdx.x, t = blockIdx.y;
    if (i >= a.n_heads * pairs) return;
    const int head = i / pairs, p = i % pairs;
    float c, s;
    int i0, i1;
    specula::rope_rotation(a, positions[t], p, freq_factors, &c, &s);
    specula::rope_pair(a, p, &i0, &i1);
    float *xh = x + ((size_t)t * a.n_heads + head) * a.head_dim;
    const float x0 = xh[i0], x1 = xh[i1];
    xh[i0] = x0 * c - x1 * s;
    xh[i1] = x0 * s + x1 * c;
}

// One thread per element of one token (grid.y = token): cache row positions[t] = k, v as F16. A
// position outside the cache writes nothing and raises SPECULA_KERNEL_ERROR_KV_POSITION.
__global__ void kv_store_kernel(const float *k, const float *v, int kv_dim, __half *cache_k, __half *cache_v, int ctx_size,
                                const int32_t *positions, unsigned int *errors) {
    const int e = blockIdx.x * ELEMENT_THREADS + threadIdx.x, t = blockIdx.y;
    if (e >= kv_dim) return;
    const int32_t p = positions[t];
    if (p < 0 || p >= ctx_size) {
        if (e == 0) atomicOr(errors, (unsigned int)SPECULA_KERNEL_ERROR_KV_POSITION);
        return;
    }
    cache_k[(size_t)p * kv_dim + e] = __float2half_rn(k[(size_t)t * kv_dim + e]);
    cache_v[(size_t)p * kv_dim + e] = __float2half_rn(v[(size_t)t * kv_dim + e]);
}

int32_t elementwise_check(const char *fn, specula_stream *stream, const specula_buffer *a, uint64_t a_offset,
                          const specula_buffer *b, uint64_t b_offset, specula_buffer *y, uint64_t y_offset, int64_t n) {
    int32_t s = specula_cuda_begin(fn, stream);
    if (s != SPECULA_OK) return s;
    if (n < 1 || (uint64_t)n / ELEMENT_THREADS >= 0x7fffffffu) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "%s: n = %lld", fn, (long long)n);
    SPECULA_NEED(fn, stream, a, a_offset, (uint64_t)n * 4, 4, "first operand");
    SPECULA_NEED(fn, stream, b, b_offset, (uint64_t)n * 4, 4, "second operand");
    SPECULA_NEED(fn, stream, y, y_offset, (uint64_t)n * 4, 4, "y");
    return SPECULA_OK;
}

}  // namespace

int32_t specula_cuda_softmax_rows(specula_stream *stream, float *x, int32_t n_rows, int32_t n_cols, float scale) {
    softmax_kernel<<<n_rows, ROW_THREADS, 0, stream->stream>>>(x, n_cols, scale);
    return specula_cuda_launched("specula_softmax");
}

extern "C" int32_t specula_rms_norm(specula_stream *stream, const specula_buffer *x, uint64_t x_offset,
                                    const specula_buffer *weight, uint64_t weight_offset, specula_buffer *y,
                                    uint64_t y_offset, int32_t n_rows, int32_t dim, float eps) {
    const char *fn = "specula_rms_norm";
    int32_t s = specula_cuda_begin(fn, stream);
    if (s != SPECULA_OK) return s;
    if (n_rows < 1 || dim < 1) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "%s: %d rows of %d", fn, n_rows, dim);
    SPECULA_NEED(fn, stream, x, x_offset, (uint64_t)n_rows * dim * 4, 4, "x");
    SPECULA_NEED(fn, stream, weight, weight_offset, (uint64_t)dim * 4, 4, "weight");
    SPECULA_NEED(fn, stream, y, y_offset, (uint64_t)n_rows * dim * 4, 4, "y");
    rms_norm_kernel<<<n_rows, ROW_THREADS, 0, stream->stream>>>(specula_at<const float>(x, x_offset),
                                                                specula_at<const float>(weight, weight_offset),
                                                                specula_at<float>(y, y_offset), dim, eps);
    return specula_cuda_launched(fn);
}

extern "C" int32_t specula_add(specula_stream *stream, const specula_buffer *a, uint64_t a_offset, const specula_buffer *b,
                               uint64_t b_offset, specula_buffer *y, uint64_t y_offset, int64_t n) {
    int32_t s = elementwise_check("specula_add", stream, a, a_offset, b, b_offset, y, y_offset, n);
    if (s != SPECULA_OK) return s;
    add_kernel<<<specula_ceil_div(n, ELEMENT_THREADS), ELEMENT_THREADS, 0, stream->stream>>>(
        specula_at<const float>(a, a_offset), specula_at<const float>(b, b_offset), specula_at<float>(y, y_offset), n);
    return specula_cuda_launched("specula_add");
}

extern "C" int32_t specula_swiglu(specula_stream *stream, const specula_buffer *gate, uint64_t gate_offset,
                                  const specula_buffer *up, uint64_t up_offset, specula_buffer *y, uint64_t y_offset, int64_t n) {
    int32_t s = elementwise_check("specula_swiglu", stream, gate, gate_offset, up, up_offset, y, y_offset, n);
    if (s != SPECULA_OK) return s;
    swiglu_kernel<<<specula_ceil_div(n, ELEMENT_THREADS), ELEMENT_THREADS, 0, stream->stream>>>(
        specula_at<const float>(gate, gate_offset), specula_at<const float>(up, up_offset), specula_at<float>(y, y_offset), n);
    return specula_cuda_launched("specula_swiglu");
}

extern "C" int32_t specula_softmax(specula_stream *stream, specula_buffer *x, uint64_t x_offset, int32_t n_rows,
                                   int32_t n_cols, float scale) {
    const char *fn = "specula_softmax";
    int32_t s = specula_cuda_begin(fn, stream);
    if (s != SPECULA_OK) return s;
    if (n_rows < 1 || n_cols < 1) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "%s: %d rows of %d", fn, n_rows, n_cols);
    SPECULA_NEED(fn, stream, x, x_offset, (uint64_t)n_rows * n_cols * 4, 4, "x");
    return specula_cuda_softmax_rows(stream, specula_at<float>(x, x_offset), n_rows, n_cols, scale);
}

extern "C" int32_t specula_embedding(specula_stream *stream, int32_t type, const specula_buffer *table, uint64_t table_offset,
                                     int64_t rows, int32_t dim, const specula_buffer *ids, uint64_t ids_offset, int32_t n,
                                     specula_buffer *y, uint64_t y_offset) {
    const char *fn = "specula_embedding";
    int32_t s = specula_cuda_begin(fn, stream);
    if (s != SPECULA_OK) return s;
    specula_format_info f;
    if (!specula_format_of(type, &f)) return specula_fail(SPECULA_ERROR_UNSUPPORTED, "%s: GGML type %d is not supported", fn, type);
    const bool plain = f.element_bytes > 0;
    if (rows < 1 || dim < 1 || (!plain && dim % f.block != 0) || n < 1) {
        return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "%s: %lld rows of %d (a multiple of %d for type %d), %d ids", fn,
                            (long long)rows, dim, f.block, type, n);
    }
    if (table == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "%s: table is NULL", fn);
    const uint64_t row_bytes = plain ? (uint64_t)dim * f.element_bytes : (uint64_t)(dim / f.block) * f.block_bytes;
    if (!plain && row_bytes % f.align != 0) {
        return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "%s: rows of %llu bytes are not %d-byte aligned", fn,
                            (unsigned long long)row_bytes, f.align);
    }
    const bool edge = plain && (dim % SPECULA_UNIT != 0 || ((uint64_t)(uintptr_t)table->device_ptr + table_offset) % 16 != 0);
    SPECULA_NEED(fn, stream, table, table_offset, (uint64_t)rows * row_bytes, (uint64_t)(edge ? f.element_bytes : f.align), "table");
    SPECULA_NEED(fn, stream, ids, ids_offset, (uint64_t)n * 4, 4, "ids");
    SPECULA_NEED(fn, stream, y, y_offset, (uint64_t)n * dim * 4, 4, "y");
    unsigned int *errors = specula_cuda_error_word(stream->device);
    const uint8_t *t = specula_at<const uint8_t>(table, table_offset);
    const int32_t *id = specula_at<const int32_t>(ids, ids_offset);
    float *out = specula_at<float>(y, y_offset);
    if (edge) {
        SPECULA_WITH_PLAIN_FORMAT(type, F, embedding_edge_kernel<F><<<n, ROW_THREADS, 0, stream->stream>>>(t, rows, row_bytes, dim,
                                                                                                           id, out, errors));
    } else {
        SPECULA_WITH_FORMAT(type, F, embedding_kernel<F><<<n, ROW_THREADS, 0, stream->stream>>>(t, rows, row_bytes, dim, id, out, errors));
    }
    return specula_cuda_launched(fn);
}

extern "C" int32_t specula_rope(specula_stream *stream, const specula_rope_params *p, specula_buffer *x, uint64_t x_offset,
                                const specula_buffer *positions, uint64_t positions_offset,
                                const specula_buffer *freq_factors, uint64_t freq_factors_offset) {
    const char *fn = "specula_rope";
    int32_t s = specula_cuda_begin(fn, stream);
    if (s != SPECULA_OK) return s;
    if (p == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "%s: params is NULL", fn);
    if (p->n_tokens < 1 || p->n_tokens > 65535 || p->n_heads < 1 || p->head_dim < 2 || p->rope_dim < 2 ||
        p->rope_dim > p->head_dim || p->rope_dim % 2 != 0 || (p->mode != SPECULA_ROPE_NORM && p->mode != SPECULA_ROPE_NEOX) ||
        !(p->freq_base > 0.0f) || !(p->freq_scale > 0.0f) || (p->ext_factor != 0.0f && p->n_ctx_orig < 1)) {
        return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT,
                            "%s: n_tokens %d (1 .. 65535), n_heads %d, head_dim %d, rope_dim %d, mode %d, base %g, freq_scale %g, n_ctx_orig %d",
                            fn, p->n_tokens, p->n_heads, p->head_dim, p->rope_dim, p->mode, (double)p->freq_base,
                            (double)p->freq_scale, p->n_ctx_orig);
    }
    SPECULA_NEED(fn, stream, x, x_offset, (uint64_t)p->n_tokens * p->n_heads * p->head_dim * 4, 4, "x");
    SPECULA_NEED(fn, stream, positions, positions_offset, (uint64_t)p->n_tokens * 4, 4, "positions");
    if (freq_factors != nullptr) SPECULA_NEED(fn, stream, freq_factors, freq_factors_offset, (uint64_t)(p->rope_dim / 2) * 4, 4, "freq_factors");
    const specula::rope_args a = specula::rope_args_of(p);
    const float *ff = freq_factors == nullptr ? nullptr : specula_at<const float>(freq_factors, freq_factors_offset);
    dim3 grid(specula_ceil_div((uint64_t)p->n_heads * (p->rope_dim / 2), ELEMENT_THREADS), (unsigned int)p->n_tokens);
    rope_kernel<<<grid, ELEMENT_THREADS, 0, stream->stream>>>(a, specula_at<float>(x, x_offset),
                                                              specula_at<const int32_t>(positions, positions_offset), ff);
    return specula_cuda_launched(fn);
}

extern "C" int32_t specula_kv_store(specula_stream *stream, const specula_buffer *k, uint64_t k_offset, const specula_buffer *v,
                                    uint64_t v_offset, int32_t n_tokens, int32_t kv_dim, specula_buffer *cache_k,
                                    uint64_t cache_k_offset, specula_buffer *cache_v, uint64_t cache_v_offset, int32_t ctx_size,
                                    const specula_buffer *positions, uint64_t positions_offset) {
    const char *fn = "specula_kv_store";
    int32_t s = specula_cuda_begin(fn, stream);
    if (s != SPECULA_OK) return s;
    if (n_tokens < 1 || n_tokens > 65535 || kv_dim < 1 || ctx_size < 1) {
        return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "%s: %d tokens (1 .. 65535) of %d into %d rows", fn, n_tokens, kv_dim, ctx_size);
    }
    SPECULA_NEED(fn, stream, k, k_offset, (uint64_t)n_tokens * kv_dim * 4, 4, "k");
    SPECULA_NEED(fn, stream, v, v_offset, (uint64_t)n_tokens * kv_dim * 4, 4, "v");
    SPECULA_NEED(fn, stream, cache_k, cache_k_offset, (uint64_t)ctx_size * kv_dim * 2, 2, "cache_k");
    SPECULA_NEED(fn, stream, cache_v, cache_v_offset, (uint64_t)ctx_size * kv_dim * 2, 2, "cache_v");
    SPECULA_NEED(fn, stream, positions, positions_offset, (uint64_t)n_tokens * 4, 4, "positions");
    dim3 grid(specula_ceil_div((uint64_t)kv_dim, ELEMENT_THREADS), (unsigned int)n_tokens);
    kv_store_kernel<<<grid, ELEMENT_THREADS, 0, stream->stream>>>(
        specula_at<const float>(k, k_offset), specula_at<const float>(v, v_offset), kv_dim, specula_at<__half>(cache_k, cache_k_offset),
        specula_at<__half>(cache_v, cache_v_offset), ctx_size, specula_at<const int32_t>(positions, positions_offset),
        specula_cuda_error_word(stream->device));
    return specula_cuda_launched(fn);
}
