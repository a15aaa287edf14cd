// Weight formats as GGUF stores them, dequantised 16 weights at a time into registers (never into a
// dequantised copy in memory). A format's unit is 32 consecutive weights of a row: a Q4_0/Q8_0 block,
// one of the 8 sub-blocks of a K-quant super-block, or 32 F16/BF16/F32 values; part(row, u, h, out)
// gives weights [16h, 16h + 16) of unit u. Block layouts as ggml's (and java/dev/specula/tensor/*Format).
// ALIGN is the alignment the loads need of a row (and of the row length in bytes): 16 where the
// format's blocks keep 16-byte alignment, so those formats load 16 bytes at a time.
// The Metal twin is metal/kernels/quants.h.
#ifndef SPECULA_QUANTS_CUH
#define SPECULA_QUANTS_CUH

#include <cuda_fp16.h>
#include <cstdint>
#include <cstring>

// Host and device: tests/native/test_cuda_formats.cu runs these very functions on the CPU (in CI)
// against an independent C dequantiser.
#define SPECULA_QFN __host__ __device__ __forceinline__
#ifdef __CUDA_ARCH__
#define SPECULA_UNROLL _Pragma("unroll")
#else
#define SPECULA_UNROLL
#endif

namespace specula {

SPECULA_QFN float bits_to_float(unsigned int u) {
#ifdef __CUDA_ARCH__
    return __uint_as_float(u);
#else
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
#endif
}

SPECULA_QFN float half_at(const uint8_t *p) {
    return __half2float(__ushort_as_half(*reinterpret_cast<const unsigned short *>(p)));
}

// 16 bytes from a 2-byte aligned address (eight 2-byte loads, one 16-byte register image).
SPECULA_QFN void load16_a2(const uint8_t *p, uint8_t out[16]) {
    const unsigned short *s = reinterpret_cast<const unsigned short *>(p);
SPECULA_UNROLL
    for (int i = 0; i < 8; i++) {
        const unsigned short v = s[i];
        out[2 * i] = (uint8_t)(v & 0xff);
        out[2 * i + 1] = (uint8_t)(v >> 8);
    }
}

// 16 bytes from a 16-byte aligned address (one load).
SPECULA_QFN void load16_a16(const uint8_t *p, uint8_t out[16]) {
    const uint4 v = *reinterpret_cast<const uint4 *>(p);
    const unsigned int w[4] = {v.x, v.y, v.z, v.w};
SPECULA_UNROLL
    for (int i = 0; i < 16; i++) out[i] = (uint8_t)(w[i / 4] >> (8 * (i % 4)));
}

// Plain formats (F32, F16, BF16) also read single elements, for rows whose length is not a whole
// number of 32-weight units or that are not 16-byte aligned (the kernels' edge paths).
struct format_f32 {
    static constexpr int BLOCK = 32, BLOCK_BYTES = 128, ALIGN = 16;
    static constexpr bool PLAIN = true;
    SPECULA_QFN static float element(const uint8_t *row, int64_t c) { return reinterpret_cast<const float *>(row)[c]; }
    SPECULA_QFN static void part(const uint8_t *row, int u, int h, float out[16]) {
        const float4 *p = reinterpret_cast<const float4 *>(row + (size_t)u * BLOCK_BYTES + 64 * h);
SPECULA_UNROLL
        for (int i = 0; i < 4; i++) {
            const float4 v = p[i];
            out[4 * i] = v.x;
            out[4 * i + 1] = v.y;
            out[4 * i + 2] = v.z;
            out[4 * i + 3] = v.w;
        }
    }
};

struct format_f16 {
    static constexpr int BLOCK = 32, BLOCK_BYTES = 64, ALIGN = 16;
    static constexpr bool PLAIN = true;
    SPECULA_QFN static float element(const uint8_t *row, int64_t c) {
        return __half2float(__ushort_as_half(reinterpret_cast<const unsigned short *>(row)[c]));
    }
    SPECULA_QFN static void part(const uint8_t *row, int u, int h, float out[16]) {
        const uint4 *p = reinterpret_cast<const uint4 *>(row + (size_t)u * BLOCK_BYTES + 32 * h);
SPECULA_UNROLL
        for (int i = 0; i < 2; i++) {
            const uint4 v = p[i];
            const unsigned int w[4] = {v.x, v.y, v.z, v.w};
SPECULA_UNROLL
            for (int k = 0; k < 4; k++) {
                out[8 * i + 2 * k] = __half2float(__ushort_as_half((unsigned short)(w[k] & 0xffffu)));
                out[8 * i + 2 * k + 1] = __half2float(__ushort_as_half((unsigned short)(w[k] >> 16)));
            }
        }
    }
};

struct format_bf16 {
    static constexpr int BLOCK = 32, BLOCK_BYTES = 64, ALIGN = 16;
    static constexpr bool PLAIN = true;
    SPECULA_QFN static float element(const uint8_t *row, int64_t c) {
        return bits_to_float((unsigned int)reinterpret_cast<const unsigned short *>(row)[c] << 16);
    }
    SPECULA_QFN static void part(const uint8_t *row, int u, int h, float out[16]) {
        const uint4 *p = reinterpret_cast<const uint4 *>(row + (size_t)u * BLOCK_BYTES + 32 * h);
SPECULA_UNROLL
        for (int i = 0; i < 2; i++) {
            const uint4 v = p[i];
            const unsigned int w[4] = {v.x, v.y, v.z, v.w};
SPECULA_UNROLL
            for (int k = 0; k < 4; k++) {
                out[8 * i + 2 * k] = bits_to_float(w[k] << 16);
                out[8 * i + 2 * k + 1] = bits_to_float(w[k] & 0xffff0000u);
            }
        }
    }
};

// Q4_0: half d, 16 bytes of nibbles (low: weights 0..15, high: 16..31); w = (q - 8) d.
struct format_q4_0 {
    static constexpr int BLOCK = 32, BLOCK_BYTES = 18, ALIGN = 2;
    static constexpr bool PLAIN = false;
    SPECULA_QFN static void part(const uint8_t *row, int u, int h, float out[16]) {
        const uint8_t *b = row + (size_t)u * BLOCK_BYTES;
        const float d = half_at(b);
        uint8_t q[16];
        load16_a2(b + 2, q);
        const int shift = 4 * h;
SPECULA_UNROLL
        for (int i = 0; i < 16; i++) out[i] = (float)(((q[i] >> shift) & 15) - 8) * d;
    }
};

// Q8_0: half d, 32 signed bytes; w = q d.
struct format_q8_0 {
    static constexpr int BLOCK = 32, BLOCK_BYTES = 34, ALIGN = 2;
    static constexpr bool PLAIN = false;
    SPECULA_QFN static void part(const uint8_t *row, int u, int h, float out[16]) {
        const uint8_t *b = row + (size_t)u * BLOCK_BYTES;
        const float d = half_at(b);
        uint8_t q[16];
        load16_a2(b + 2 + 16 * h, q);
SPECULA_UNROLL
        for (int i = 0; i < 16; i++) out[i] = (float)(int8_t)q[i] * d;
    }
};

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K super-block (ggml's get_scale_min_k4).
SPECULA_QFN void k_scale_min(const uint8_t *scales, int j, float &sc, float &mn) {
    if (j < 4) {
        sc = (float)(scales[j] & 63);
        mn = (float)(scales[j + 4] & 63);
    } else {
        sc = (float)((scales[j + 4] & 15) | ((scales[j - 4] >> 6) << 4));
        mn = (float)((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
    }
}

// Q4_K: 256 weights: half d, half dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles; in
// each 64-weight chunk c the low nibbles are sub-block 2c and the high ones 2c+1; w = d sc q - dmin m.
struct format_q4_k {
    static constexpr int BLOCK = 256, BLOCK_BYTES = 144, ALIGN = 16;
    static constexpr bool PLAIN = false;
    SPECULA_QFN static void part(const uint8_t *row, int u, int h, float out[16]) {
        const uint8_t *b = row + (size_t)(u / 8) * BLOCK_BYTES;
        const int j = u % 8;
        float sc, mn;
        k_scale_min(b + 4, j, sc, mn);
        const float d = half_at(b) * sc, m = half_at(b + 2) * mn;
        uint8_t q[16];
        load16_a16(b + 16 + 32 * (j / 2) + 16 * h, q);
        const int shift = (j % 2) * 4;
SPECULA_UNROLL
        for (int i = 0; i < 16; i++) out[i] = d * (float)((q[i] >> shift) & 15) - m;
    }
};

// Q5_K: as Q4_K (scales at 4, nibbles at 48) plus 32 bytes of fifth bits at 16: bit j of qh[i] is
// the fifth bit of weight i of sub-block j.
struct format_q5_k {
    static constexpr int BLOCK = 256, BLOCK_BYTES = 176, ALIGN = 16;
    static constexpr bool PLAIN = false;
    SPECULA_QFN static void part(const uint8_t *row, int u, int h, float out[16]) {
        const uint8_t *b = row + (size_t)(u / 8) * BLOCK_BYTES;
        const int j = u % 8;
        float sc, mn;
        k_scale_min(b + 4, j, sc, mn);
        const float d = half_at(b) * sc, m = half_at(b + 2) * mn;
        uint8_t q[16], qh[16];
        load16_a16(b + 48 + 32 * (j / 2) + 16 * h, q);
        load16_a16(b + 16 + 16 * h, qh);
        const int shift = (j % 2) * 4;
SPECULA_UNROLL
        for (int i = 0; i < 16; i++) {
            const int v = ((q[i] >> shift) & 15) | (((qh[i] >> j) & 1) << 4);
            out[i] = d * (float)v - m;
        }
    }
};

// Q6_K: 256 weights: 128 bytes of low nibbles, 64 of high 2-bit pairs, 16 signed scales, half d.
// Sub-block j is quarter j%4 of half j/4; w = d scale (q - 32), one scale per 16 weights.
struct format_q6_k {
    static constexpr int BLOCK = 256, BLOCK_BYTES = 210, ALIGN = 2;
    static constexpr bool PLAIN = false;
    SPECULA_QFN static void part(const uint8_t *row, int u, int h, float out[16]) {
        const uint8_t *b = row + (size_t)(u / 8) * BLOCK_BYTES;
        const int j = u % 8, half_ = j / 4, quarter = j % 4;
        uint8_t ql[16], qh[16];
        load16_a2(b + 64 * half_ + 32 * (quarter & 1) + 16 * h, ql);
        load16_a2(b + 128 + 32 * half_ + 16 * h, qh);
        const float d = half_at(b + 208) * (float)(int8_t)b[192 + 8 * half_ + 2 * quarter + h];
        const int shift = quarter >= 2 ? 4 : 0, hshift = 2 * quarter;
SPECULA_UNROLL
        for (int i = 0; i < 16; i++) {
            const int q = ((ql[i] >> shift) & 15) | (((qh[i] >> hshift) & 3) << 4);
            out[i] = d * (float)(q - 32);
        }
    }
};

}  // namespace specula

// Host side: the block shape of a GGML type, or false when the kernels do not take it.
struct specula_format_info {
    int32_t block;        // weights per block
    int32_t block_bytes;
    int32_t align;        // alignment the unit kernels need of the weights (and of each row)
    int32_t element_bytes; // plain formats: bytes of one element (their edge paths need only that alignment); 0 for blocks
};

static inline bool specula_format_of(int32_t type, specula_format_info *f) {
    switch (type) {
        case SPECULA_TYPE_F32: *f = {32, 128, 16, 4}; return true;
        case SPECULA_TYPE_F16: *f = {32, 64, 16, 2}; return true;
        case SPECULA_TYPE_BF16: *f = {32, 64, 16, 2}; return true;
        case SPECULA_TYPE_Q4_0: *f = {32, 18, 2, 0}; return true;
        case SPECULA_TYPE_Q8_0: *f = {32, 34, 2, 0}; return true;
        case SPECULA_TYPE_Q4_K: *f = {256, 144, 16, 0}; return true;
        case SPECULA_TYPE_Q5_K: *f = {256, 176, 16, 0}; return true;
        case SPECULA_TYPE_Q6_K: *f = {256, 210, 2, 0}; return true;
        default: return false;
    }
}

// Runs the statements with F the format struct of a supported type (checked by specula_format_of first).
#define SPECULA_WITH_FORMAT(type, F, ...)                                                           \
    switch (type) {                                                                                 \
        case SPECULA_TYPE_F32: { using F = specula::format_f32; __VA_ARGS__; } break;              \
        case SPECULA_TYPE_F16: { using F = specula::format_f16; __VA_ARGS__; } break;              \
        case SPECULA_TYPE_BF16: { using F = specula::format_bf16; __VA_ARGS__; } break;            \
        case SPECULA_TYPE_Q4_0: { using F = specula::format_q4_0; __VA_ARGS__; } break;            \
        case SPECULA_TYPE_Q8_0: { using F = specula::format_q8_0; __VA_ARGS__; } break;            \
        case SPECULA_TYPE_Q4_K: { using F = specula::format_q4_k; __VA_ARGS__; } break;            \
        case SPECULA_TYPE_Q5_K: { using F = specula::format_q5_k; __VA_ARGS__; } break;            \
        case SPECULA_TYPE_Q6_K: { using F = specula::format_q6_k; __VA_ARGS__; } break;            \
        default: break;                                                                             \
    }

// The same over the plain formats only (edge paths).
#define SPECULA_WITH_PLAIN_FORMAT(type, F, ...)                                                     \
    switch (type) {                                                                                 \
        case SPECULA_TYPE_F32: { using F = specula::format_f32; __VA_ARGS__; } break;              \
        case SPECULA_TYPE_F16: { using F = specula::format_f16; __VA_ARGS__; } break;              \
        case SPECULA_TYPE_BF16: { using F = specula::format_bf16; __VA_ARGS__; } break;            \
        default: break;                                                                             \
    }

#endif
