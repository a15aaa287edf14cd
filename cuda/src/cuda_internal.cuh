// What the CUDA sources of libspecula_cuda share: the handle structs, error reporting, argument
// checks and the per-device sticky kernel-error word. Not part of the ABI.
#ifndef SPECULA_CUDA_INTERNAL_CUH
#define SPECULA_CUDA_INTERNAL_CUH

#include "specula.h"
#include "specula_internal.h"

#include <cuda_runtime.h>
#include <cstdint>
#include <vector>

// Kernel tile shapes and sticky error bits, shared with the Metal kernels (which mirror these).
#include "../../metal/kernels/specula_metal_args.h"

struct specula_stream {
    int32_t device;
    cudaStream_t stream;
    // Device scratch of the split-K attention partials. Never freed while the stream lives: a
    // recorded graph keeps the address it was captured with, so growing keeps the old block too.
    std::vector<void *> scratch_blocks;
    uint64_t scratch_bytes;
};

struct specula_buffer {
    int32_t device;
    void *device_ptr;   // what kernels read and write
    void *host_ptr;     // registered host memory, or nullptr for device memory
    uint64_t bytes;
};

struct specula_event {
    int32_t device;
    cudaEvent_t event;
};

struct specula_graph {
    int32_t device;
    cudaGraph_t graph;
    cudaGraphExec_t exec;
};

// Maps a CUDA error to a status with a one-line message naming `what`.
SPECULA_INTERNAL int32_t specula_cuda_fail(cudaError_t e, const char *what);

// The device's sticky kernel-error word (created with the device's first stream), or nullptr.
SPECULA_INTERNAL unsigned int *specula_cuda_error_word(int32_t device);

// At least `bytes` of device scratch owned by the stream (see specula_stream::scratch_blocks).
SPECULA_INTERNAL int32_t specula_cuda_stream_scratch(specula_stream *stream, uint64_t bytes, void **scratch);

// [offset, offset + bytes) lies in b, on the stream's device, offset a multiple of `align`;
// `what` names the argument in the message.
SPECULA_INTERNAL int32_t specula_cuda_need(const char *fn, const specula_stream *stream, const specula_buffer *b,
                                           uint64_t offset, uint64_t bytes, uint64_t align, const char *what);

// The stream is usable for a kernel and its device is current.
SPECULA_INTERNAL int32_t specula_cuda_begin(const char *fn, const specula_stream *stream);

// The launch just queued (cudaGetLastError), reported under fn.
SPECULA_INTERNAL int32_t specula_cuda_launched(const char *fn);

// Queues the in-place softmax of n_rows rows of n_cols floats (ops.cu; plain attention uses it).
SPECULA_INTERNAL int32_t specula_cuda_softmax_rows(specula_stream *stream, float *x, int32_t n_rows, int32_t n_cols, float scale);

// The arguments of a matrix product (gemv.cu, gemm.cu); sets the bytes of one weight row, and
// edge when plain weights (F32/F16/BF16) must take the element-wise path (rows not whole units of
// 32, or weights or x not 16-byte aligned).
SPECULA_INTERNAL int32_t specula_cuda_matmul_check(const char *fn, specula_stream *stream, int32_t type, const specula_buffer *w,
                                                   uint64_t w_offset, int64_t rows, int64_t cols, const specula_buffer *x,
                                                   uint64_t x_offset, int32_t n, int32_t max_n, specula_buffer *y,
                                                   uint64_t y_offset, uint64_t *row_bytes, bool *edge);

#define SPECULA_NEED(fn, stream, b, off, bytes, align, what)                                  \
    do {                                                                                     \
        int32_t need_status_ = specula_cuda_need((fn), (stream), (b), (off), (bytes), (align), (what)); \
        if (need_status_ != SPECULA_OK) return need_status_;                                 \
    } while (0)

template <typename T>
static inline T *specula_at(const specula_buffer *b, uint64_t offset) {
    return reinterpret_cast<T *>(static_cast<char *>(b->device_ptr) + offset);
}

static inline unsigned int specula_ceil_div(uint64_t a, uint64_t b) { return (unsigned int)((a + b - 1) / b); }

#endif
