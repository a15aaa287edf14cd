/* A syntax-check stand-in for the Metal Shading Language, so that clang can parse the kernels
 * (metal/kernels, every .metal file) as C++17 on machines without Apple's Metal compiler (tools/check-metal).
 *
 * What it models: the address-space qualifiers (device, threadgroup, constant, thread) and the
 * `kernel` qualifier as nothing; MSL's vector and scalar types as clang ext_vector_types (the same
 * component access and arithmetic); and declarations, not implementations, of the metal_stdlib
 * functions the kernels use (simd reductions, barriers, atomics, math, simdgroup matrices).
 * Attributes such as [[buffer(0)]] are unknown to clang and ignored
 * (-Wno-unknown-attributes); [[host_name]] on an explicit instantiation, which C++ does not
 * allow there, is written SPECULA_HOST_NAME(name) in the kernels and is empty here. It checks syntax, names, types and overloads against this model;
 * it does not check address-space rules, Metal's own restrictions, or that the model matches
 * Metal exactly — only Apple's compiler (xcrun metal, run by the CMake build on macOS) does that.
 */
#ifndef SPECULA_METAL_SHIM_H
#define SPECULA_METAL_SHIM_H

#define __METAL_VERSION__ 310
#define device
#define threadgroup
#define constant
#define thread
#define kernel
/* Template instantiations name their kernel with an attribute only Metal accepts in that place. */
#define SPECULA_HOST_NAME(name)

#include <stddef.h>
#include <stdint.h>

#define INFINITY __builtin_huge_valf()
#define MAXHALF ((half)65504.0f)

#if defined(__FLT16_MAX__)
typedef _Float16 half; /* clang 15+ on x86-64 */
#define SPECULA_SHIM_HALF_VECTORS 1
#else
/* Older clang has no _Float16 here: a 16-bit type that converts to and from float (declared only). */
struct half {
    unsigned short bits;
    half() = default;
    half(float);
    operator float() const;
};
#endif
typedef unsigned char uchar;
typedef unsigned short ushort;
typedef unsigned int uint;
typedef unsigned long ulong;

#define SPECULA_SHIM_VECTORS(T)                                   \
    typedef T T##2 __attribute__((ext_vector_type(2)));           \
    typedef T T##3 __attribute__((ext_vector_type(3)));           \
    typedef T T##4 __attribute__((ext_vector_type(4)));
SPECULA_SHIM_VECTORS(float)
#ifdef SPECULA_SHIM_HALF_VECTORS
SPECULA_SHIM_VECTORS(half)
#endif
SPECULA_SHIM_VECTORS(int)
SPECULA_SHIM_VECTORS(uint)
SPECULA_SHIM_VECTORS(short)
SPECULA_SHIM_VECTORS(ushort)
SPECULA_SHIM_VECTORS(char)
SPECULA_SHIM_VECTORS(uchar)
SPECULA_SHIM_VECTORS(ulong)
#undef SPECULA_SHIM_VECTORS

namespace metal {

template <typename T, typename U> T as_type(U v) {
    static_assert(sizeof(T) == sizeof(U), "as_type between types of different sizes");
    return __builtin_bit_cast(T, v);
}

// ---- math (float; half converts) ----
float exp(float);
float exp2(float);
float log(float);
float log2(float);
float pow(float, float);
float sqrt(float);
float rsqrt(float);
float sin(float);
float cos(float);
float fabs(float);
float abs(float);
float floor(float);
float ceil(float);
float fma(float, float, float);
float clamp(float, float, float);
bool isinf(float);
bool isnan(float);
template <typename T> T max(T, T);
template <typename T> T min(T, T);
namespace fast {
float exp(float);
float exp2(float);
float sin(float);
float cos(float);
}
namespace precise {
float exp(float);
float pow(float, float);
float sin(float);
float cos(float);
}

// ---- synchronisation ----
enum class mem_flags { mem_none = 0, mem_device = 1, mem_threadgroup = 2, mem_texture = 4 };
inline mem_flags operator|(mem_flags a, mem_flags b) { return mem_flags(int(a) | int(b)); }
void threadgroup_barrier(mem_flags);
void simdgroup_barrier(mem_flags);

// ---- simd-group functions ----
template <typename T> T simd_sum(T);
template <typename T> T simd_max(T);
template <typename T> T simd_min(T);
template <typename T> T simd_prefix_exclusive_sum(T);
template <typename T> T simd_shuffle(T, ushort);
template <typename T> T simd_shuffle_xor(T, ushort);
template <typename T> T simd_shuffle_down(T, ushort);
template <typename T> T simd_broadcast(T, ushort);

// ---- atomics ----
enum memory_order { memory_order_relaxed };
struct atomic_uint { uint v; };
struct atomic_int { int v; };
uint atomic_fetch_or_explicit(atomic_uint *, uint, memory_order);
uint atomic_fetch_add_explicit(atomic_uint *, uint, memory_order);
int atomic_fetch_max_explicit(atomic_int *, int, memory_order);
uint atomic_load_explicit(atomic_uint *, memory_order);
void atomic_store_explicit(atomic_uint *, uint, memory_order);

// ---- simdgroup matrices ----
template <typename T, int Cols, int Rows = Cols> struct simdgroup_matrix {
#ifdef SPECULA_METAL_EMU
    T e[Rows * Cols];  // metal/emu: every lane holds the whole matrix, row-major
#else
    T thread_elements_storage[2];
#endif
};
typedef simdgroup_matrix<float, 8, 8> simdgroup_float8x8;
typedef simdgroup_matrix<half, 8, 8> simdgroup_half8x8;

template <typename T, int Cols, int Rows = Cols> simdgroup_matrix<T, Cols, Rows> make_filled_simdgroup_matrix(const T value);
template <typename T, int Cols, int Rows>
void simdgroup_load(simdgroup_matrix<T, Cols, Rows> &d, const T *src, ulong elements_per_row = Cols,
                    ulong2 matrix_origin = ulong2(0), bool transpose_matrix = false);
template <typename T, int Cols, int Rows>
void simdgroup_store(simdgroup_matrix<T, Cols, Rows> a, T *dst, ulong elements_per_row = Cols,
                     ulong2 matrix_origin = ulong2(0), bool transpose_matrix = false);
template <typename TD, typename TA, typename TB, typename TC, int C, int R, int K>
void simdgroup_multiply_accumulate(simdgroup_matrix<TD, C, R> &d, const simdgroup_matrix<TA, K, R> &a,
                                   const simdgroup_matrix<TB, C, K> &b, const simdgroup_matrix<TC, C, R> &c);
template <typename TD, typename TA, typename TB, int C, int R, int K>
void simdgroup_multiply(simdgroup_matrix<TD, C, R> &d, const simdgroup_matrix<TA, K, R> &a,
                        const simdgroup_matrix<TB, C, K> &b);

}  // namespace metal

#endif
