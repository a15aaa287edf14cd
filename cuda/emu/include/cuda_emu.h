// cuda-emu: runs the CUDA sources of libspecula_cuda on the CPU, so that every kernel executes
// (and is checked against its CPU twin) on machines without a GPU, CI included.
//
// How: the .cu files are compiled as C++ with this header forced in first and the shim headers
// (cuda_runtime.h, cuda_fp16.h, mma.h) ahead of the toolkit's; tools/translate.cpp rewrites each
// `kernel<<<grid, block, smem, stream>>>(args)` into `::emu::launch(kernel, "kernel", grid, ...)(args)`
// and changes nothing else (same lines, so diagnostics point at the real source).
//
// Execution model: a block's threads are fibers on one OS thread, run one at a time until each
// reaches a __syncthreads(), a warp collective (shuffle, __syncwarp, WMMA) or its end; blocks of a
// grid run one after another. __shared__ variables are function statics (one instance for the
// block being run). This is a faithful serialisation of a correct kernel; what it cannot show is
// timing, coalescing or a data race that only some interleavings expose. What it does show:
// out-of-range indexing (build with ASan), reads of memory nothing wrote (cudaMalloc fills with
// 0xFF bytes, NaN as F32 and F16), barriers or shuffles some threads never reach (reported as a
// deadlock naming the kernel, block and thread), launch shapes CUDA refuses, and graph recording
// mistakes (a synchronous copy while a stream records invalidates the capture, as on a GPU).
#ifndef SPECULA_CUDA_EMU_H
#define SPECULA_CUDA_EMU_H

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

#ifndef SPECULA_CUDA_EMU
#define SPECULA_CUDA_EMU 1
#endif

// ---- qualifiers ------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __constant__ static
// One instance per kernel (per template instance) and per OS thread; a block runs on one thread.
#define __shared__ static thread_local

// ---- vector types ----------------------------------------------------------------------------
struct dim3 {
    unsigned int x, y, z;
    constexpr dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct uint3 { unsigned int x, y, z; };
struct __attribute__((aligned(16))) float4 { float x, y, z, w; };
struct __attribute__((aligned(8))) float2 { float x, y; };
struct __attribute__((aligned(16))) uint4 { unsigned int x, y, z, w; };
struct __attribute__((aligned(8))) uint2 { unsigned int x, y; };
struct __attribute__((aligned(16))) int4 { int x, y, z, w; };
struct __attribute__((aligned(8))) int2 { int x, y; };
inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }
inline float2 make_float2(float x, float y) { return float2{x, y}; }
inline uint4 make_uint4(unsigned int x, unsigned int y, unsigned int z, unsigned int w) { return uint4{x, y, z, w}; }
inline uint2 make_uint2(unsigned int x, unsigned int y) { return uint2{x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return int4{x, y, z, w}; }
inline int2 make_int2(int x, int y) { return int2{x, y}; }

typedef struct CUstream_st *cudaStream_t;

namespace emu {

// The thread being run: its indices and the block's shape.
struct thread_state {
    uint3 thread_idx, block_idx;
    dim3 block_dim, grid_dim;
    int linear;  // threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)
};
const thread_state &current();

void sync_block();                                     // __syncthreads
void sync_warp(unsigned int mask);                     // __syncwarp
// Lane value exchange: every lane of `mask` deposits `bytes` bytes at `in`, then reads the deposit
// of lane `src_lane(lane)` into `out` (a lane outside the mask or width reads its own value).
void warp_exchange(unsigned int mask, const void *in, void *out, size_t bytes, int mode, int arg, int width);
enum { SHFL_XOR = 0, SHFL_IDX = 1, SHFL_UP = 2, SHFL_DOWN = 3 };
// For the Metal kernels' emulation (metal/emu), whose TU cannot see this header's CUDA types:
// threadIdx xyz, blockIdx xyz, blockDim xyz, gridDim xyz of the running thread; and every
// existing lane's `bytes` at `in`, gathered into out[lane] (returns the mask of existing lanes).
void current_indices(unsigned int v[12]);
unsigned int warp_gather(const void *in, void *out, size_t bytes);
// Runs fn(ctx) as a kernel over grid x block, now (the Metal emulation's dispatch).
void run_grid(const char *name, const unsigned int grid[3], const unsigned int block[3], void (*fn)(void *), void *ctx);

// Runs (or, while the stream records, records) one kernel launch; sets the error that
// cudaGetLastError reports when the shape is one CUDA refuses.
void submit(const char *name, dim3 grid, dim3 block, size_t smem, cudaStream_t stream, std::function<void()> body);

template <typename... P>
struct launcher {
    void (*kernel)(P...);
    const char *name;
    dim3 grid, block;
    size_t smem;
    cudaStream_t stream;
    template <typename... A>
    void operator()(A &&...args) const {
        // Arguments are converted to the kernel's parameter types and copied now, as CUDA does.
        std::tuple<std::decay_t<P>...> params(static_cast<P>(std::forward<A>(args))...);
        void (*k)(P...) = kernel;
        submit(name, grid, block, smem, stream, [k, params]() { std::apply(k, params); });
    }
};

template <typename... P>
launcher<P...> launch(void (*kernel)(P...), const char *name, dim3 grid, dim3 block, size_t smem = 0,
                      cudaStream_t stream = nullptr) {
    return launcher<P...>{kernel, name, grid, block, smem, stream};
}

}  // namespace emu

#define threadIdx (::emu::current().thread_idx)
#define blockIdx (::emu::current().block_idx)
#define blockDim (::emu::current().block_dim)
#define gridDim (::emu::current().grid_dim)
constexpr int warpSize = 32;

inline void __syncthreads() { ::emu::sync_block(); }
inline void __syncwarp(unsigned int mask = 0xffffffffu) { ::emu::sync_warp(mask); }
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

template <typename T>
inline T __shfl_xor_sync(unsigned int mask, T v, int lane_mask, int width = 32) {
    T out;
    ::emu::warp_exchange(mask, &v, &out, sizeof(T), ::emu::SHFL_XOR, lane_mask, width);
    return out;
}
template <typename T>
inline T __shfl_sync(unsigned int mask, T v, int src, int width = 32) {
    T out;
    ::emu::warp_exchange(mask, &v, &out, sizeof(T), ::emu::SHFL_IDX, src, width);
    return out;
}
template <typename T>
inline T __shfl_up_sync(unsigned int mask, T v, unsigned int delta, int width = 32) {
    T out;
    ::emu::warp_exchange(mask, &v, &out, sizeof(T), ::emu::SHFL_UP, (int)delta, width);
    return out;
}
template <typename T>
inline T __shfl_down_sync(unsigned int mask, T v, unsigned int delta, int width = 32) {
    T out;
    ::emu::warp_exchange(mask, &v, &out, sizeof(T), ::emu::SHFL_DOWN, (int)delta, width);
    return out;
}

// ---- atomics (blocks may run on several OS threads) ------------------------------------------
inline unsigned int atomicOr(unsigned int *p, unsigned int v) { return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST); }
inline int atomicOr(int *p, int v) { return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST); }
inline unsigned int atomicAnd(unsigned int *p, unsigned int v) { return __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST); }
inline int atomicAdd(int *p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
inline unsigned int atomicAdd(unsigned int *p, unsigned int v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
inline float atomicAdd(float *p, float v) {
    unsigned int *u = reinterpret_cast<unsigned int *>(p);
    unsigned int old = __atomic_load_n(u, __ATOMIC_SEQ_CST), next;
    do {
        float f;
        std::memcpy(&f, &old, sizeof f);
        f += v;
        std::memcpy(&next, &f, sizeof next);
    } while (!__atomic_compare_exchange_n(u, &old, next, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
    float f;
    std::memcpy(&f, &old, sizeof f);
    return f;
}
inline int atomicMax(int *p, int v) {
    int old = __atomic_load_n(p, __ATOMIC_SEQ_CST);
    while (old < v && !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    }
    return old;
}
inline unsigned int atomicCAS(unsigned int *p, unsigned int expected, unsigned int desired) {
    __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return expected;
}

// ---- device math -----------------------------------------------------------------------------
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __sinf(float x) { return std::sin(x); }
inline float __cosf(float x) { return std::cos(x); }
inline float __powf(float x, float y) { return std::pow(x, y); }
inline float __fdividef(float x, float y) { return x / y; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline float __uint_as_float(unsigned int u) { float f; std::memcpy(&f, &u, sizeof f); return f; }
inline unsigned int __float_as_uint(float f) { unsigned int u; std::memcpy(&u, &f, sizeof u); return u; }
inline float __int_as_float(int u) { float f; std::memcpy(&f, &u, sizeof f); return f; }
inline int __float_as_int(float f) { int u; std::memcpy(&u, &f, sizeof u); return u; }
inline int __popc(unsigned int v) { return __builtin_popcount(v); }
inline int __clz(int v) { return v == 0 ? 32 : __builtin_clz((unsigned int)v); }
inline int __ffs(int v) { return __builtin_ffs(v); }
// CUDA's integer and float min/max overloads.
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned int min(unsigned int a, unsigned int b) { return a < b ? a : b; }
inline unsigned int max(unsigned int a, unsigned int b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }

#endif
