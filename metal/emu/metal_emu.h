// metal-emu: definitions behind tools/metal_shim.h's declarations, so the Metal kernels that the
// syntax check parses also execute, on the CPU, on cuda-emu's fibers (cuda/emu: a threadgroup's
// threads are fibers, a simdgroup is 32 of them, as a CUDA warp). Included after the shim and
// before the kernels, in the one translation unit that holds them (metal_emu_kernels.cpp). No
// <cmath> here: the kernels' unqualified exp() and friends must find metal's only.
#ifndef SPECULA_METAL_EMU_H
#define SPECULA_METAL_EMU_H

#include <stddef.h>

namespace emu {
void sync_block();
void sync_warp(unsigned int mask);
void current_indices(unsigned int v[12]);
unsigned int warp_gather(const void *in, void *out, size_t bytes);
}  // namespace emu

namespace metal {

template <typename T> T max(T a, T b) { return a > b ? a : b; }
template <typename T> T min(T a, T b) { return a < b ? a : b; }

inline void threadgroup_barrier(mem_flags) { emu::sync_block(); }
inline void simdgroup_barrier(mem_flags) { emu::sync_warp(0xffffffffu); }

namespace emu_detail {
inline unsigned int lane() {
    unsigned int v[12];
    emu::current_indices(v);
    const unsigned int linear = v[0] + v[6] * (v[1] + v[7] * v[2]);
    return linear % 32;
}
template <typename T, typename Op> T reduce(T v, Op op) {
    T all[32];
    const unsigned int lanes = emu::warp_gather(&v, all, sizeof(T));
    bool first = true;
    T r = v;
    for (int l = 0; l < 32; l++) {  // the simdgroup's active lanes, in lane order
        if (!(lanes & (1u << l))) continue;
        r = first ? all[l] : op(r, all[l]);
        first = false;
    }
    return r;
}
}  // namespace emu_detail

template <typename T> T simd_sum(T v) { return emu_detail::reduce(v, [](T a, T b) { return T(a + b); }); }
template <typename T> T simd_max(T v) { return emu_detail::reduce(v, [](T a, T b) { return a > b ? a : b; }); }
template <typename T> T simd_min(T v) { return emu_detail::reduce(v, [](T a, T b) { return a < b ? a : b; }); }
template <typename T> T simd_shuffle(T v, ushort src) {
    T all[32];
    emu::warp_gather(&v, all, sizeof(T));
    return all[src % 32];
}
template <typename T> T simd_broadcast(T v, ushort src) { return simd_shuffle(v, src); }
template <typename T> T simd_shuffle_xor(T v, ushort m) {
    T all[32];
    emu::warp_gather(&v, all, sizeof(T));
    return all[(emu_detail::lane() ^ m) % 32];
}
template <typename T> T simd_shuffle_down(T v, ushort d) {
    T all[32];
    emu::warp_gather(&v, all, sizeof(T));
    const unsigned int l = emu_detail::lane();
    return l + d < 32 ? all[l + d] : v;
}
template <typename T> T simd_prefix_exclusive_sum(T v) {
    T all[32];
    emu::warp_gather(&v, all, sizeof(T));
    T s = T(0);
    for (unsigned int l = 0; l < emu_detail::lane(); l++) s = T(s + all[l]);
    return s;
}

inline uint atomic_fetch_or_explicit(atomic_uint *p, uint v, memory_order) { return __atomic_fetch_or(&p->v, v, __ATOMIC_SEQ_CST); }
inline uint atomic_fetch_add_explicit(atomic_uint *p, uint v, memory_order) { return __atomic_fetch_add(&p->v, v, __ATOMIC_SEQ_CST); }
inline int atomic_fetch_max_explicit(atomic_int *p, int v, memory_order) {
    int old = __atomic_load_n(&p->v, __ATOMIC_SEQ_CST);
    while (old < v && !__atomic_compare_exchange_n(&p->v, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    }
    return old;
}
inline uint atomic_load_explicit(atomic_uint *p, memory_order) { return __atomic_load_n(&p->v, __ATOMIC_SEQ_CST); }
inline void atomic_store_explicit(atomic_uint *p, uint v, memory_order) { __atomic_store_n(&p->v, v, __ATOMIC_SEQ_CST); }

// Simdgroup matrices: each lane computes the whole 8x8 product (F16 inputs widened to F32). Loads
// and stores are simdgroup-collective, as on the GPU: the simdgroup meets before and after.
template <typename T, int Cols, int Rows> simdgroup_matrix<T, Cols, Rows> make_filled_simdgroup_matrix(const T value) {
    simdgroup_matrix<T, Cols, Rows> m;
    for (int i = 0; i < Rows * Cols; i++) m.e[i] = value;
    return m;
}
template <typename T, int Cols, int Rows>
void simdgroup_load(simdgroup_matrix<T, Cols, Rows> &d, const T *src, ulong elements_per_row, ulong2 origin, bool transpose) {
    emu::sync_warp(0xffffffffu);
    const T *base = src + origin.y * elements_per_row + origin.x;
    for (int r = 0; r < Rows; r++)
        for (int c = 0; c < Cols; c++) d.e[r * Cols + c] = transpose ? base[c * elements_per_row + r] : base[r * elements_per_row + c];
    emu::sync_warp(0xffffffffu);
}
template <typename T, int Cols, int Rows>
void simdgroup_store(simdgroup_matrix<T, Cols, Rows> a, T *dst, ulong elements_per_row, ulong2 origin, bool transpose) {
    emu::sync_warp(0xffffffffu);
    T *base = dst + origin.y * elements_per_row + origin.x;
    for (int r = 0; r < Rows; r++)
        for (int c = 0; c < Cols; c++) {
            if (transpose) base[c * elements_per_row + r] = a.e[r * Cols + c];
            else base[r * elements_per_row + c] = a.e[r * Cols + c];
        }
    emu::sync_warp(0xffffffffu);
}
template <typename TD, typename TA, typename TB, typename TC, int C, int R, int K>
void simdgroup_multiply_accumulate(simdgroup_matrix<TD, C, R> &d, const simdgroup_matrix<TA, K, R> &a,
                                   const simdgroup_matrix<TB, C, K> &b, const simdgroup_matrix<TC, C, R> &c) {
    float out[R * C];
    for (int i = 0; i < R; i++)
        for (int j = 0; j < C; j++) {
            float s = float(c.e[i * C + j]);
            for (int k = 0; k < K; k++) s += float(a.e[i * K + k]) * float(b.e[k * C + j]);
            out[i * C + j] = s;
        }
    for (int i = 0; i < R * C; i++) d.e[i] = TD(out[i]);
}
template <typename TD, typename TA, typename TB, int C, int R, int K>
void simdgroup_multiply(simdgroup_matrix<TD, C, R> &d, const simdgroup_matrix<TA, K, R> &a, const simdgroup_matrix<TB, C, K> &b) {
    float out[R * C];
    for (int i = 0; i < R; i++)
        for (int j = 0; j < C; j++) {
            float s = 0.0f;
            for (int k = 0; k < K; k++) s += float(a.e[i * K + k]) * float(b.e[k * C + j]);
            out[i * C + j] = s;
        }
    for (int i = 0; i < R * C; i++) d.e[i] = TD(out[i]);
}

}  // namespace metal

#endif
