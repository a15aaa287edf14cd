// Decode GEMV: y[i][r] = sum_c W[r][c] x[i][c] for i < n <= 8, W in its GGUF format. One warp per
// weight row, SPECULA_GEMV_ROWS_PER_GROUP rows per block; lane l takes the row's 32-weight units
// l, l + 32, ... (consecutive lanes read consecutive blocks, so a warp's loads are one contiguous
// run of the row), dequantises each in registers and serves all n activation rows from it, so the
// weights are read once whatever n is. The Metal twin is metal/kernels/gemv.metal.
#include "cuda_internal.cuh"
#include "row_dot.cuh"

namespace {

constexpr int ROWS_PER_BLOCK = SPECULA_GEMV_ROWS_PER_GROUP, MAX_N = SPECULA_GEMV_MAX_N, UNIT = SPECULA_UNIT;

template <typename F>
__global__ void __launch_bounds__(32 * ROWS_PER_BLOCK)
gemv_kernel(const uint8_t *__restrict__ w, int rows, size_t row_bytes, const float *__restrict__ x, int cols, int n,
            float *__restrict__ y) {
    const int lane = threadIdx.x % 32, r = blockIdx.x * ROWS_PER_BLOCK + threadIdx.x / 32;
    if (r >= rows) return;  // whole warps leave: no block-wide synchronisation follows
    const uint8_t *row = w + (size_t)r * row_bytes;
    const int units = cols / UNIT;
    float acc[MAX_N];
#pragma unroll
    for (int i = 0; i < MAX_N; i++) acc[i] = 0.0f;
    // Two units in flight per lane: a 4096-column row is only 4 steps of the warp.
#pragma unroll 2
    for (int u = lane; u < units; u += 32) {
        float wv[UNIT];
        specula::unit_weights<F>(row, u, wv);
#pragma unroll
        for (int i = 0; i < MAX_N; i++) {
            if (i < n) acc[i] += specula::unit_dot(wv, x + (size_t)i * cols + (size_t)u * UNIT);
        }
    }
#pragma unroll
    for (int i = 0; i < MAX_N; i++) {
        if (i < n) {
            const float s = specula::warp_row_sum(acc[i]);
            if (lane == 0) y[(size_t)i * rows + r] = s;
        }
    }
}

// Plain weights (F32/F16/BF16) whose rows are not whole aligned units: lanes over single columns.
template <typename F>
__global__ void __launch_bounds__(32 * ROWS_PER_BLOCK)
gemv_edge_kernel(const uint8_t *__restrict__ w, int rows, size_t row_bytes, const float *__restrict__ x, int cols, int n,
                 float *__restrict__ y) {
    const int lane = threadIdx.x % 32, r = blockIdx.x * ROWS_PER_BLOCK + threadIdx.x / 32;
    if (r >= rows) return;
    const uint8_t *row = w + (size_t)r * row_bytes;
    float acc[MAX_N];
#pragma unroll
    for (int i = 0; i < MAX_N; i++) acc[i] = 0.0f;
    for (int c = lane; c < cols; c += 32) {
        const float wv = F::element(row, c);
#pragma unroll
        for (int i = 0; i < MAX_N; i++) {
            if (i < n) acc[i] += wv * x[(size_t)i * cols + c];
        }
    }
#pragma unroll
    for (int i = 0; i < MAX_N; i++) {
        if (i < n) {
            const float s = specula::warp_row_sum(acc[i]);
            if (lane == 0) y[(size_t)i * rows + r] = s;
        }
    }
}

}  // namespace

int32_t specula_cuda_matmul_check(const char *fn, specula_stream *stream, int32_t type, const specula_buffer *w,
                                  uint64_t w_offset, int64_t rows, int64_t cols, const specula_buffer *x, uint64_t x_offset,
                                  int32_t n, int32_t max_n, specula_buffer *y, uint64_t y_offset, uint64_t *row_bytes, bool *edge) {
    int32_t s = specula_cuda_begin(fn, stream);
    if (s != SPECULA_OK) return s;
    specula_format_info f;
    if (!specula_format_of(type, &f)) return specula_fail(SPECULA_ERROR_UNSUPPORTED, "%s: GGML type %d is not supported", fn, type);
    const bool plain = f.element_bytes > 0;
    if (rows < 1 || rows > INT32_MAX || cols < 1 || cols > INT32_MAX || (!plain && cols % f.block != 0)) {
        return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "%s: %lld x %lld is not a matrix of whole %d-weight blocks of type %d", fn,
                            (long long)rows, (long long)cols, f.block, type);
    }
    if (n < 1 || n > max_n) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "%s: n = %d (1 .. %d)", fn, n, max_n);
    if (w == nullptr || x == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "%s: weights or x is NULL", fn);
    *row_bytes = plain ? (uint64_t)cols * f.element_bytes : (uint64_t)(cols / f.block) * f.block_bytes;
    if (!plain && *row_bytes % f.align != 0) {
        return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "%s: rows of %llu bytes are not %d-byte aligned", fn,
                            (unsigned long long)*row_bytes, f.align);
    }
    // Plain weights of any length or alignment take the element-wise edge path; blocks need units.
    const uint64_t w_at = (uint64_t)(uintptr_t)w->device_ptr + w_offset, x_at = (uint64_t)(uintptr_t)x->device_ptr + x_offset;
    *edge = plain && (cols % SPECULA_UNIT != 0 || w_at % 16 != 0 || x_at % 16 != 0);
    SPECULA_NEED(fn, stream, w, w_offset, (uint64_t)rows * *row_bytes, (uint64_t)(*edge ? f.element_bytes : f.align), "weights");
    SPECULA_NEED(fn, stream, x, x_offset, (uint64_t)n * (uint64_t)cols * 4, *edge ? 4 : 16, "x");
    SPECULA_NEED(fn, stream, y, y_offset, (uint64_t)n * (uint64_t)rows * 4, 4, "y");
    return SPECULA_OK;
}

extern "C" int32_t specula_type_supported(int32_t type) {
    specula_format_info f;
    return specula_format_of(type, &f) ? 1 : 0;
}

extern "C" int32_t specula_gemv(specula_stream *stream, int32_t type, const specula_buffer *w, uint64_t w_offset, int64_t rows,
                                int64_t cols, const specula_buffer *x, uint64_t x_offset, int32_t n, specula_buffer *y,
                                uint64_t y_offset) {
    const char *fn = "specula_gemv";
    uint64_t row_bytes = 0;
    bool edge = false;
    int32_t s = specula_cuda_matmul_check(fn, stream, type, w, w_offset, rows, cols, x, x_offset, n, MAX_N, y, y_offset, &row_bytes, &edge);
    if (s != SPECULA_OK) return s;
    const uint8_t *wp = specula_at<const uint8_t>(w, w_offset);
    const float *xp = specula_at<const float>(x, x_offset);
    float *yp = specula_at<float>(y, y_offset);
    const unsigned int blocks = specula_ceil_div((uint64_t)rows, ROWS_PER_BLOCK);
    if (edge) {
        SPECULA_WITH_PLAIN_FORMAT(type, F, gemv_edge_kernel<F><<<blocks, 32 * ROWS_PER_BLOCK, 0, stream->stream>>>(
                                               wp, (int)rows, row_bytes, xp, (int)cols, n, yp));
    } else {
        SPECULA_WITH_FORMAT(type, F, gemv_kernel<F><<<blocks, 32 * ROWS_PER_BLOCK, 0, stream->stream>>>(
                                         wp, (int)rows, row_bytes, xp, (int)cols, n, yp));
    }
    return specula_cuda_launched(fn);
}
