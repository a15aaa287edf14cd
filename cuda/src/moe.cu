// Mixture of experts on the device (ABI 2.1): routing (softmax over the router logits, top-k,
// optional renormalisation, as llama.cpp's llm_build_moe_ffn and Specula's MixtureOfExperts do),
// the expert GEMV that reads each (token, slot)'s expert id from device memory, and the weighted
// sum of the k outputs with qwen2moe's sigmoid-gated shared expert. Nothing here goes back to the
// host, so a MoE decode step records as one graph like a dense one.
//
// Batches take the same per-(token, slot) GEMV: each pair reads its expert's rows on its own
// (correct, but a batch re-reads an expert once per token that chose it; grouping the rows by
// expert into a GEMM is the faster path not written yet).
#include "cuda_internal.cuh"
#include "row_dot.cuh"

namespace {

constexpr int ROWS_PER_BLOCK = SPECULA_GEMV_ROWS_PER_GROUP, UNIT = SPECULA_UNIT;
constexpr int MAX_EXPERTS = 1024, MAX_K = 64, MAX_GRID_Y = 65535;
// ggml clamps the sum of the chosen weights below at F16's smallest normal before dividing.
constexpr float MIN_WEIGHT_SUM = 6.103515625e-5f;

// One warp per token: the softmax in shared memory, then k rounds of a warp arg-max (ties to the
// lower id) over the experts not yet taken. Lane 0 sums the weights in rank order, as the CPU does.
__global__ void __launch_bounds__(32)
moe_route_kernel(const float *__restrict__ logits, int n_experts, int k, int normalize, int32_t *__restrict__ ids,
                 float *__restrict__ weights, unsigned int *errors) {
    __shared__ float p[MAX_EXPERTS];
    const int t = blockIdx.x, lane = threadIdx.x;
    const float *l = logits + (size_t)t * n_experts;
    float max = -INFINITY;
    for (int e = lane; e < n_experts; e += 32) max = fmaxf(max, l[e]);
    for (int o = 16; o > 0; o >>= 1) max = fmaxf(max, __shfl_xor_sync(0xffffffffu, max, o));
    float sum = 0.0f;
    for (int e = lane; e < n_experts; e += 32) {
        p[e] = expf(l[e] - max);
        sum += p[e];
    }
    for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
    const float inv = 1.0f / sum;
    for (int e = lane; e < n_experts; e += 32) p[e] *= inv;
    __syncwarp();
    int32_t *id = ids + (size_t)t * k;
    float *wt = weights + (size_t)t * k;
    for (int s = 0; s < k; s++) {
        float best = -1.0f;  // taken experts are marked -2, so any probability (even 0) beats them
        int best_e = -1;
        for (int e = lane; e < n_experts; e += 32) {
            if (p[e] > best) {  // lane-local scan runs in increasing e: ties keep the lower id
                best = p[e];
                best_e = e;
            }
        }
        for (int o = 16; o > 0; o >>= 1) {
            const float ob = __shfl_xor_sync(0xffffffffu, best, o);
            const int oe = __shfl_xor_sync(0xffffffffu, best_e, o);
            if (oe >= 0 && (best_e < 0 || ob > best || (ob == best && oe < best_e))) {
                best = ob;
                best_e = oe;
            }
        }
        if (lane == 0) {
            if (best_e < 0) {  // NaN logits: no expert compares above -1
                atomicOr(errors, (unsigned int)SPECULA_KERNEL_ERROR_EXPERT_ID);
                id[s] = 0;
                wt[s] = 0.0f;
            } else {
                id[s] = best_e;
                wt[s] = best;
                p[best_e] = -2.0f;
            }
        }
        __syncwarp();
    }
    if (normalize && lane == 0) {
        float total = 0.0f;
        for (int s = 0; s < k; s++) total += wt[s];
        total = fmaxf(total, MIN_WEIGHT_SUM);
        for (int s = 0; s < k; s++) wt[s] /= total;
    }
}

// gemv.cu's warp-per-row product (row_dot.cuh) for one (token, slot) pair per grid row (grid.y strides over the
// pairs), its expert's matrix found from the id in device memory. EDGE: plain experts whose rows are
// not whole aligned units, lanes over single columns.
template <typename F, bool EDGE>
__global__ void __launch_bounds__(32 * ROWS_PER_BLOCK)
gemv_experts_kernel(const uint8_t *__restrict__ w, int n_experts, int rows, size_t row_bytes, const float *__restrict__ x, int cols,
                    int x_per_slot, const int32_t *__restrict__ ids, int pairs, int k, float *__restrict__ y, unsigned int *errors) {
    const int lane = threadIdx.x % 32, r = blockIdx.x * ROWS_PER_BLOCK + threadIdx.x / 32;
    if (r >= rows) return;
    for (int pair = blockIdx.y; pair < pairs; pair += gridDim.y) {
        const int32_t e = ids[pair];
        float *out = y + (size_t)pair * rows + r;
        if (e < 0 || e >= n_experts) {
            if (lane == 0) {
                *out = 0.0f;
                if (r == 0) atomicOr(errors, (unsigned int)SPECULA_KERNEL_ERROR_EXPERT_ID);
            }
            continue;
        }
        const uint8_t *row = w + ((size_t)e * rows + r) * row_bytes;
        const float *xr = x + (size_t)(x_per_slot ? pair : pair / k) * cols;
        float acc = 0.0f;
        if constexpr (EDGE) {
            for (int c = lane; c < cols; c += 32) acc += F::element(row, c) * xr[c];
        } else {
#pragma unroll 2
            for (int u = lane; u < cols / UNIT; u += 32) {
                float wv[UNIT];
                specula::unit_weights<F>(row, u, wv);
                acc += specula::unit_dot(wv, xr + (size_t)u * UNIT);
            }
        }
        acc = specula::warp_row_sum(acc);
        if (lane == 0) *out = acc;
    }
}

// One thread per output element (grid.y = token): the slots added in rank order, then the shared expert.
__global__ void moe_combine_kernel(const float *__restrict__ x, const float *__restrict__ weights, int k, int dim,
                                   const float *__restrict__ shared, const float *__restrict__ shared_gate, float *__restrict__ y) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x, t = blockIdx.y;
    if (i >= dim) return;
    const float *xt = x + (size_t)t * k * dim + i, *wt = weights + (size_t)t * k;
    float o = xt[0] * wt[0];
    for (int s = 1; s < k; s++) o += xt[(size_t)s * dim] * wt[s];
    if (shared != nullptr) {
        const float g = shared_gate[t];
        // llama.cpp's sigmoid here is silu(g) / g (the CPU twin's formula; 1/2 at g = 0).
        const float sigmoid = g == 0.0f ? 0.5f : g / (1.0f + expf(-g)) / g;
        o += shared[(size_t)t * dim + i] * sigmoid;
    }
    y[(size_t)t * dim + i] = o;
}

}  // namespace

extern "C" int32_t specula_moe_route(specula_stream *stream, const specula_moe_route_params *p, const specula_buffer *logits,
                                     uint64_t logits_offset, specula_buffer *ids, uint64_t ids_offset, specula_buffer *weights,
                                     uint64_t weights_offset) {
    const char *fn = "specula_moe_route";
    int32_t s = specula_cuda_begin(fn, stream);
    if (s != SPECULA_OK) return s;
    if (p == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "%s: params is NULL", fn);
    if (p->n_tokens < 1 || p->n_experts < 1 || p->n_experts > MAX_EXPERTS || p->k < 1 || p->k > p->n_experts || p->k > MAX_K ||
        (p->normalize != 0 && p->normalize != 1)) {
        return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "%s: n_tokens %d, n_experts %d (1 .. %d), k %d (1 .. min(n_experts, %d)), normalize %d",
                            fn, p->n_tokens, p->n_experts, MAX_EXPERTS, p->k, MAX_K, p->normalize);
    }
    const uint64_t pairs = (uint64_t)p->n_tokens * p->k;
    SPECULA_NEED(fn, stream, logits, logits_offset, (uint64_t)p->n_tokens * p->n_experts * 4, 4, "logits");
    SPECULA_NEED(fn, stream, ids, ids_offset, pairs * 4, 4, "ids");
    SPECULA_NEED(fn, stream, weights, weights_offset, pairs * 4, 4, "weights");
    moe_route_kernel<<<(unsigned int)p->n_tokens, 32, 0, stream->stream>>>(
        specula_at<const float>(logits, logits_offset), p->n_experts, p->k, p->normalize, specula_at<int32_t>(ids, ids_offset),
        specula_at<float>(weights, weights_offset), specula_cuda_error_word(stream->device));
    return specula_cuda_launched(fn);
}

extern "C" int32_t specula_gemv_experts(specula_stream *stream, int32_t type, const specula_buffer *w, uint64_t w_offset,
                                        int32_t n_experts, int64_t rows, int64_t cols, const specula_buffer *x, uint64_t x_offset,
                                        int32_t x_per_slot, const specula_buffer *ids, uint64_t ids_offset, int32_t n_tokens, int32_t k,
                                        specula_buffer *y, uint64_t y_offset) {
    const char *fn = "specula_gemv_experts";
    int32_t s = specula_cuda_begin(fn, stream);
    if (s != SPECULA_OK) return s;
    specula_format_info f;
    if (!specula_format_of(type, &f)) return specula_fail(SPECULA_ERROR_UNSUPPORTED, "%s: GGML type %d is not supported", fn, type);
    const bool plain = f.element_bytes > 0;
    if (rows < 1 || rows > INT32_MAX || cols < 1 || cols > INT32_MAX || (!plain && cols % f.block != 0)) {
        return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "%s: %lld x %lld is not a matrix of whole %d-weight blocks of type %d", fn,
                            (long long)rows, (long long)cols, f.block, type);
    }
    if (n_experts < 1 || n_tokens < 1 || k < 1 || k > n_experts || (int64_t)n_tokens * k > INT32_MAX || (x_per_slot != 0 && x_per_slot != 1)) {
        return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "%s: %d experts, %d tokens, k %d (1 .. n_experts), x_per_slot %d (0 or 1)", fn,
                            n_experts, n_tokens, k, x_per_slot);
    }
    if (w == nullptr || x == nullptr || ids == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "%s: weights, x or ids is NULL", fn);
    const uint64_t row_bytes = plain ? (uint64_t)cols * f.element_bytes : (uint64_t)(cols / f.block) * f.block_bytes;
    if (!plain && row_bytes % f.align != 0) {
        return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "%s: rows of %llu bytes are not %d-byte aligned", fn,
                            (unsigned long long)row_bytes, f.align);
    }
    const uint64_t w_at = (uint64_t)(uintptr_t)w->device_ptr + w_offset, x_at = (uint64_t)(uintptr_t)x->device_ptr + x_offset;
    const bool edge = plain && (cols % UNIT != 0 || w_at % 16 != 0 || x_at % 16 != 0);
    const int pairs = n_tokens * k;
    SPECULA_NEED(fn, stream, w, w_offset, (uint64_t)n_experts * rows * row_bytes, (uint64_t)(edge ? f.element_bytes : f.align), "weights");
    SPECULA_NEED(fn, stream, x, x_offset, (uint64_t)(x_per_slot ? pairs : n_tokens) * cols * 4, edge ? 4 : 16, "x");
    SPECULA_NEED(fn, stream, ids, ids_offset, (uint64_t)pairs * 4, 4, "ids");
    SPECULA_NEED(fn, stream, y, y_offset, (uint64_t)pairs * rows * 4, 4, "y");
    const uint8_t *wp = specula_at<const uint8_t>(w, w_offset);
    const float *xp = specula_at<const float>(x, x_offset);
    const int32_t *ip = specula_at<const int32_t>(ids, ids_offset);
    float *yp = specula_at<float>(y, y_offset);
    unsigned int *errors = specula_cuda_error_word(stream->device);
    const dim3 grid(specula_ceil_div((uint64_t)rows, ROWS_PER_BLOCK), (unsigned int)(pairs < MAX_GRID_Y ? pairs : MAX_GRID_Y));
    if (edge) {
        SPECULA_WITH_PLAIN_FORMAT(type, F, gemv_experts_kernel<F, true><<<grid, 32 * ROWS_PER_BLOCK, 0, stream->stream>>>(
                                               wp, n_experts, (int)rows, row_bytes, xp, (int)cols, x_per_slot, ip, pairs, k, yp, errors));
    } else {
        SPECULA_WITH_FORMAT(type, F, gemv_experts_kernel<F, false><<<grid, 32 * ROWS_PER_BLOCK, 0, stream->stream>>>(
                                         wp, n_experts, (int)rows, row_bytes, xp, (int)cols, x_per_slot, ip, pairs, k, yp, errors));
    }
    return specula_cuda_launched(fn);
}

extern "C" int32_t specula_moe_combine(specula_stream *stream, const specula_buffer *x, uint64_t x_offset, const specula_buffer *weights,
                                       uint64_t weights_offset, int32_t n_tokens, int32_t k, int32_t dim, const specula_buffer *shared,
                                       uint64_t shared_offset, const specula_buffer *shared_gate, uint64_t shared_gate_offset,
                                       specula_buffer *y, uint64_t y_offset) {
    const char *fn = "specula_moe_combine";
    int32_t s = specula_cuda_begin(fn, stream);
    if (s != SPECULA_OK) return s;
    if (n_tokens < 1 || n_tokens > MAX_GRID_Y || k < 1 || dim < 1) {
        return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "%s: %d tokens (1 .. %d), k %d, dim %d", fn, n_tokens, MAX_GRID_Y, k, dim);
    }
    if ((shared == nullptr) != (shared_gate == nullptr)) {
        return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "%s: shared and shared_gate come together (one is NULL)", fn);
    }
    SPECULA_NEED(fn, stream, x, x_offset, (uint64_t)n_tokens * k * dim * 4, 4, "x");
    SPECULA_NEED(fn, stream, weights, weights_offset, (uint64_t)n_tokens * k * 4, 4, "weights");
    SPECULA_NEED(fn, stream, y, y_offset, (uint64_t)n_tokens * dim * 4, 4, "y");
    if (shared != nullptr) {
        SPECULA_NEED(fn, stream, shared, shared_offset, (uint64_t)n_tokens * dim * 4, 4, "shared");
        SPECULA_NEED(fn, stream, shared_gate, shared_gate_offset, (uint64_t)n_tokens * 4, 4, "shared_gate");
    }
    const dim3 grid(specula_ceil_div((uint64_t)dim, SPECULA_ELEMENT_THREADS), (unsigned int)n_tokens);
    moe_combine_kernel<<<grid, SPECULA_ELEMENT_THREADS, 0, stream->stream>>>(
        specula_at<const float>(x, x_offset), specula_at<const float>(weights, weights_offset), k, dim,
        shared == nullptr ? nullptr : specula_at<const float>(shared, shared_offset),
        shared_gate == nullptr ? nullptr : specula_at<const float>(shared_gate, shared_gate_offset), specula_at<float>(y, y_offset));
    return specula_cuda_launched(fn);
}
