/* Plain C references for the CUDA kernel tests: F16/BF16 conversions, random GGUF blocks and their
 * dequantisation, written from ggml's dequantize_row_* loops (whole blocks, in ggml's order),
 * independently of the kernels' per-unit code in cuda/src/quants.cuh. Header-only (static). */
#ifndef SPECULA_GGUF_REFERENCE_H
#define SPECULA_GGUF_REFERENCE_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* GGML type ids (as specula.h's specula_type). */
enum { REF_F32 = 0, REF_F16 = 1, REF_Q4_0 = 2, REF_Q8_0 = 8, REF_Q4_K = 12, REF_Q5_K = 13, REF_Q6_K = 14, REF_BF16 = 30 };

static const int REF_TYPES[] = {REF_F32, REF_F16, REF_BF16, REF_Q4_0, REF_Q8_0, REF_Q4_K, REF_Q5_K, REF_Q6_K};
enum { REF_N_TYPES = 8 };

static inline const char *ref_type_name(int type) {
    switch (type) {
        case REF_F32: return "F32";
        case REF_F16: return "F16";
        case REF_BF16: return "BF16";
        case REF_Q4_0: return "Q4_0";
        case REF_Q8_0: return "Q8_0";
        case REF_Q4_K: return "Q4_K";
        case REF_Q5_K: return "Q5_K";
        case REF_Q6_K: return "Q6_K";
        default: return "?";
    }
}

static inline int ref_block(int type) { return type == REF_Q4_K || type == REF_Q5_K || type == REF_Q6_K ? 256 : 32; }

static inline int ref_block_bytes(int type) {
    switch (type) {
        case REF_F32: return 128;
        case REF_F16: return 64;
        case REF_BF16: return 64;
        case REF_Q4_0: return 18;
        case REF_Q8_0: return 34;
        case REF_Q4_K: return 144;
        case REF_Q5_K: return 176;
        case REF_Q6_K: return 210;
        default: return 0;
    }
}

/* Plain types (F32, F16, BF16) take rows of any length; block types whole blocks. */
static inline int ref_plain_bytes(int type) { return type == REF_F32 ? 4 : type == REF_F16 || type == REF_BF16 ? 2 : 0; }

static inline size_t ref_row_bytes(int type, int64_t cols) {
    if (ref_plain_bytes(type)) return (size_t)cols * ref_plain_bytes(type);
    return (size_t)(cols / ref_block(type)) * (size_t)ref_block_bytes(type);
}

/* ---- numbers ---- */

static uint64_t ref_rng = 0x9e3779b97f4a7c15ull;
static inline uint32_t ref_next(void) {
    ref_rng ^= ref_rng << 13;
    ref_rng ^= ref_rng >> 7;
    ref_rng ^= ref_rng << 17;
    return (uint32_t)(ref_rng >> 16);
}
/* Uniform in [lo, hi). */
static inline float ref_uniform(float lo, float hi) { return lo + (hi - lo) * (float)(ref_next() & 0xffffff) / 16777216.0f; }

static inline float ref_half_to_float(uint16_t h) {
    const int sign = h >> 15, exp = (h >> 10) & 31, mant = h & 1023;
    float v;
    if (exp == 0) v = ldexpf((float)mant, -24);
    else if (exp == 31) v = mant ? NAN : INFINITY;
    else v = ldexpf((float)(mant | 1024), exp - 25);
    return sign ? -v : v;
}

/* Round to nearest even, as __float2half_rn. */
static inline uint16_t ref_float_to_half(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000u;
    const uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return (uint16_t)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0));
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds past 65504 */
    if (ax < 0x38800000u) {                                    /* subnormal half (or zero) */
        const float a = fabsf(f) * 16777216.0f;                /* in units of 2^-24 */
        float r = nearbyintf(a);                                /* default rounding: nearest even */
        return (uint16_t)(sign | (uint32_t)r);
    }
    const uint32_t mant = ax & 0x7fffffu;
    const int32_t exp = (int32_t)(ax >> 23) - 127 + 15;
    uint32_t h = ((uint32_t)exp << 10) | (mant >> 13);
    const uint32_t rest = mant & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;
    return (uint16_t)(sign | h);
}

static inline float ref_round_half(float f) { return ref_half_to_float(ref_float_to_half(f)); }

static inline float ref_bf16_to_float(uint16_t b) {
    uint32_t x = (uint32_t)b << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}

static inline void ref_put_half(uint8_t *p, float f) {
    const uint16_t h = ref_float_to_half(f);
    p[0] = (uint8_t)(h & 0xff);
    p[1] = (uint8_t)(h >> 8);
}

static inline float ref_get_half(const uint8_t *p) { return ref_half_to_float((uint16_t)(p[0] | (p[1] << 8))); }

/* ---- random blocks: plausible scales, random quants ---- */

static inline void ref_random_row(int type, int64_t cols, uint8_t *row) {
    const size_t bytes = ref_row_bytes(type, cols);
    for (size_t i = 0; i < bytes; i++) row[i] = (uint8_t)ref_next();
    for (int64_t i = 0; ref_plain_bytes(type) && i < cols; i++) {
        float f = ref_uniform(-1.0f, 1.0f);
        uint32_t x;
        memcpy(&x, &f, 4);
        if (type == REF_F32) memcpy(row + 4 * i, &f, 4);
        else if (type == REF_F16) ref_put_half(row + 2 * i, f);
        else row[2 * i] = (uint8_t)(x >> 16), row[2 * i + 1] = (uint8_t)(x >> 24);
    }
    if (ref_plain_bytes(type)) return;
    const int bb = ref_block_bytes(type);
    const int64_t blocks = cols / ref_block(type);
    for (int64_t b = 0; b < blocks; b++) {
        uint8_t *p = row + b * bb;
        switch (type) {
            case REF_Q4_0:
            case REF_Q8_0:
                ref_put_half(p, ref_uniform(0.002f, 0.05f) * (ref_next() & 1 ? 1.0f : -1.0f));
                break;
            case REF_Q4_K:
            case REF_Q5_K:
                ref_put_half(p, ref_uniform(0.0005f, 0.01f));
                ref_put_half(p + 2, ref_uniform(0.0f, 0.01f));
                break;
            case REF_Q6_K:
                ref_put_half(p + 208, ref_uniform(0.0002f, 0.004f));
                break;
        }
    }
}

/* ---- dequantisation, ggml's loops ---- */

static inline void ref_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
    }
}

static inline void ref_dequantize_row(int type, const uint8_t *row, int64_t cols, float *y) {
    for (int64_t i = 0; ref_plain_bytes(type) && i < cols; i++) {
        if (type == REF_F32) memcpy(y + i, row + 4 * i, 4);
        else if (type == REF_F16) y[i] = ref_get_half(row + 2 * i);
        else y[i] = ref_bf16_to_float((uint16_t)(row[2 * i] | (row[2 * i + 1] << 8)));
    }
    if (ref_plain_bytes(type)) return;
    const int bb = ref_block_bytes(type);
    const int64_t nb = cols / ref_block(type);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *x = row + b * bb;
        switch (type) {
            case REF_Q4_0: {
                const float d = ref_get_half(x);
                for (int j = 0; j < 16; j++) {
                    const int x0 = (x[2 + j] & 0x0F) - 8, x1 = (x[2 + j] >> 4) - 8;
                    y[j] = x0 * d;
                    y[j + 16] = x1 * d;
                }
                y += 32;
                break;
            }
            case REF_Q8_0: {
                const float d = ref_get_half(x);
                for (int j = 0; j < 32; j++) y[j] = (float)(int8_t)x[2 + j] * d;
                y += 32;
                break;
            }
            case REF_Q4_K: {
                const float d = ref_get_half(x), min = ref_get_half(x + 2);
                const uint8_t *scales = x + 4, *q = x + 16;
                int is = 0;
                for (int j = 0; j < 256; j += 64) {
                    uint8_t sc, m;
                    ref_scale_min_k4(is + 0, scales, &sc, &m);
                    const float d1 = d * sc, m1 = min * m;
                    ref_scale_min_k4(is + 1, scales, &sc, &m);
                    const float d2 = d * sc, m2 = min * m;
                    for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
                    for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
                    q += 32;
                    is += 2;
                }
                break;
            }
            case REF_Q5_K: {
                const float d = ref_get_half(x), min = ref_get_half(x + 2);
                const uint8_t *scales = x + 4, *qh = x + 16, *ql = x + 48;
                int is = 0;
                uint8_t u1 = 1, u2 = 2;
                for (int j = 0; j < 256; j += 64) {
                    uint8_t sc, m;
                    ref_scale_min_k4(is + 0, scales, &sc, &m);
                    const float d1 = d * sc, m1 = min * m;
                    ref_scale_min_k4(is + 1, scales, &sc, &m);
                    const float d2 = d * sc, m2 = min * m;
                    for (int l = 0; l < 32; ++l) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
                    for (int l = 0; l < 32; ++l) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
                    ql += 32;
                    is += 2;
                    u1 <<= 2;
                    u2 <<= 2;
                }
                break;
            }
            case REF_Q6_K: {
                const float d = ref_get_half(x + 208);
                const uint8_t *ql = x, *qh = x + 128;
                const int8_t *sc = (const int8_t *)(x + 192);
                for (int n = 0; n < 256; n += 128) {
                    for (int l = 0; l < 32; ++l) {
                        const int is = l / 16;
                        const int8_t q1 = (int8_t)((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                        const int8_t q2 = (int8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                        const int8_t q3 = (int8_t)((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                        const int8_t q4 = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                        y[l + 0] = d * sc[is + 0] * q1;
                        y[l + 32] = d * sc[is + 2] * q2;
                        y[l + 64] = d * sc[is + 4] * q3;
                        y[l + 96] = d * sc[is + 6] * q4;
                    }
                    y += 128;
                    ql += 64;
                    qh += 32;
                    sc += 8;
                }
                break;
            }
        }
    }
}

#endif
