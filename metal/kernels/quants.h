// Weight formats as GGUF stores them, dequantised one 32-weight unit at a time into registers
// (never into a dequantised copy of the weight): a Q4_0/Q8_0 block, one of the 8 sub-blocks of a
// K-quant super-block, or 32 consecutive F16/BF16/F32 values. The CUDA twin is cuda/src/quants.cuh.
#ifndef SPECULA_METAL_QUANTS_H
#define SPECULA_METAL_QUANTS_H

#include <metal_stdlib>
using namespace metal;

// Names a template instantiation's kernel (the syntax-check shim defines it away).
#ifndef SPECULA_HOST_NAME
#define SPECULA_HOST_NAME(name) [[host_name(name)]]
#endif

inline float load_half(device const uchar *p) { return float(*(device const half *)p); }

struct format_f32 {
    enum { BLOCK = 32, BLOCK_BYTES = 128 };
    static void unit(device const uchar *row, int u, thread float *out) {
        device const float *p = (device const float *)(row + u * BLOCK_BYTES);
        for (int i = 0; i < 32; i++) out[i] = p[i];
    }
};

struct format_f16 {
    enum { BLOCK = 32, BLOCK_BYTES = 64 };
    static void unit(device const uchar *row, int u, thread float *out) {
        device const half *p = (device const half *)(row + u * BLOCK_BYTES);
        for (int i = 0; i < 32; i++) out[i] = float(p[i]);
    }
};

struct format_bf16 {
    enum { BLOCK = 32, BLOCK_BYTES = 64 };
    static void unit(device const uchar *row, int u, thread float *out) {
        device const ushort *p = (device const ushort *)(row + u * BLOCK_BYTES);
        for (int i = 0; i < 32; i++) out[i] = as_type<float>(uint(p[i]) << 16);
    }
};

// Q4_0: 32 weights per block: half d, 16 bytes of nibbles (low: weights 0..15, high: 16..31), w = (q - 8) d.
struct format_q4_0 {
    enum { BLOCK = 32, BLOCK_BYTES = 18 };
    static void unit(device const uchar *row, int u, thread float *out) {
        device const uchar *b = row + u * BLOCK_BYTES;
        const float d = load_half(b);
        for (int i = 0; i < 16; i++) {
            out[i] = (float(b[2 + i] & 15) - 8.0f) * d;
            out[i + 16] = (float(b[2 + i] >> 4) - 8.0f) * d;
        }
    }
};

// Q8_0: 32 weights per block: half d, 32 signed bytes, w = q d.
struct format_q8_0 {
    enum { BLOCK = 32, BLOCK_BYTES = 34 };
    static void unit(device const uchar *row, int u, thread float *out) {
        device const uchar *b = row + u * BLOCK_BYTES;
        const float d = load_half(b);
        device const char *q = (device const char *)(b + 2);
        for (int i = 0; i < 32; i++) out[i] = float(q[i]) * d;
    }
};

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K super-block.
inline void k_scale_min(device const uchar *scales, int j, thread float &sc, thread float &mn) {
    if (j < 4) {
        sc = float(scales[j] & 63);
        mn = float(scales[j + 4] & 63);
    } else {
        sc = float((scales[j + 4] & 15) | ((scales[j - 4] >> 6) << 4));
        mn = float((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
    }
}

// Q4_K: 256 weights: half d, half dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles; in
// each 64-weight chunk the low nibbles are sub-block 2c and the high ones 2c+1; w = d sc q - dmin m.
struct format_q4_k {
    enum { BLOCK = 256, BLOCK_BYTES = 144 };
    static void unit(device const uchar *row, int u, thread float *out) {
        device const uchar *b = row + (u / 8) * BLOCK_BYTES;
        const int j = u % 8;
        float sc, mn;
        k_scale_min(b + 4, j, sc, mn);
        const float d = load_half(b) * sc, m = load_half(b + 2) * mn;
        device const uchar *q = b + 16 + 32 * (j / 2);
        const int shift = (j % 2) * 4;
        for (int i = 0; i < 32; i++) out[i] = d * float((q[i] >> shift) & 15) - m;
    }
};

// Q5_K: as Q4_K plus a fifth bit per weight: bit j of qh[i] for weight i of sub-block j.
struct format_q5_k {
    enum { BLOCK = 256, BLOCK_BYTES = 176 };
    static void unit(device const uchar *row, int u, thread float *out) {
        device const uchar *b = row + (u / 8) * BLOCK_BYTES;
        const int j = u % 8;
        float sc, mn;
        k_scale_min(b + 4, j, sc, mn);
        const float d = load_half(b) * sc, m = load_half(b + 2) * mn;
        device const uchar *qh = b + 16;
        device const uchar *q = b + 48 + 32 * (j / 2);
        const int shift = (j % 2) * 4;
        for (int i = 0; i < 32; i++) {
            const int v = ((q[i] >> shift) & 15) | ((qh[i] >> j) & 1) << 4;
            out[i] = d * float(v) - m;
        }
    }
};

// Q6_K: 256 weights: 128 bytes of low nibbles, 64 of high 2-bit pairs, 16 signed scales, half d.
// Sub-block j is quarter j%4 of half j/4; w = d scale (q - 32).
struct format_q6_k {
    enum { BLOCK = 256, BLOCK_BYTES = 210 };
    static void unit(device const uchar *row, int u, thread float *out) {
        device const uchar *b = row + (u / 8) * BLOCK_BYTES;
        const int j = u % 8, half_ = j / 4, quarter = j % 4;
        device const uchar *ql = b + 64 * half_ + 32 * (quarter & 1);
        device const uchar *qh = b + 128 + 32 * half_;
        device const char *scales = (device const char *)(b + 192) + 8 * half_ + 2 * quarter;
        const float d = load_half(b + 208);
        const int shift = quarter >= 2 ? 4 : 0;
        for (int i = 0; i < 32; i++) {
            const int q = ((ql[i] >> shift) & 15) | (((qh[i] >> (2 * quarter)) & 3) << 4);
            out[i] = d * float(scales[i / 16]) * float(q - 32);
        }
    }
};

#endif
