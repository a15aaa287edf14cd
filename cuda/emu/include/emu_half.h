// cuda-emu and metal-emu's IEEE binary16 conversions: round to nearest even (subnormals, infinities
// and NaN included), as the GPUs' conversion instructions do. No CUDA or Metal types here.
#ifndef SPECULA_EMU_HALF_H
#define SPECULA_EMU_HALF_H

#include <cstring>

namespace emu {

inline unsigned short float_to_half_bits(float f) {
    unsigned int u;
    std::memcpy(&u, &f, sizeof u);
    const unsigned int sign = (u >> 16) & 0x8000u;
    const unsigned int abs = u & 0x7fffffffu;
    if (abs >= 0x7f800000u) return (unsigned short)(sign | (abs > 0x7f800000u ? 0x7e00u : 0x7c00u));  // NaN, inf
    if (abs >= 0x477ff000u) return (unsigned short)(sign | 0x7c00u);  // rounds to >= 65520: inf
    if (abs < 0x38800000u) {  // below the smallest normal half: subnormal or zero
        if (abs < 0x33000000u) return (unsigned short)sign;  // below half the smallest subnormal
        const unsigned int mant = (abs & 0x7fffffu) | 0x800000u;
        // value = mant * 2^(e - 150) = (mant >> (126 - e)) units of 2^-24, the subnormal step
        const unsigned int total_shift = 126u - (abs >> 23);  // 14 .. 24
        unsigned int h = mant >> total_shift;
        const unsigned int rem = mant & ((1u << total_shift) - 1u), halfway = 1u << (total_shift - 1u);
        if (rem > halfway || (rem == halfway && (h & 1u))) h++;
        return (unsigned short)(sign | h);
    }
    unsigned int h = ((abs - 0x38000000u) >> 13);  // rebias exponent 127 -> 15, keep 10 mantissa bits
    const unsigned int rem = abs & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;
    return (unsigned short)(sign | h);
}

inline float half_bits_to_float_slow(unsigned short h) {
    const unsigned int sign = (unsigned int)(h & 0x8000u) << 16;
    const unsigned int exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    unsigned int u;
    if (exp == 0) {
        if (mant == 0) {
            u = sign;
        } else {  // subnormal: mant * 2^-24
            float f = (float)mant * 5.9604644775390625e-8f;
            std::memcpy(&u, &f, sizeof u);
            u |= sign;
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | (mant << 13);
    } else {
        u = sign | ((exp + 112u) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

// All 65536 halves widened once (256 KiB): the KV cache and WMMA tiles read many.
struct half_table {
    float value[65536];
    half_table() {
        for (unsigned int i = 0; i < 65536; i++) value[i] = half_bits_to_float_slow((unsigned short)i);
    }
};
inline float half_bits_to_float(unsigned short h) {
    static const half_table *t = new half_table();
    return t->value[h];
}

}  // namespace emu

#endif
