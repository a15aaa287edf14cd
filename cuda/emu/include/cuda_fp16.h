// cuda-emu's stand-in for the toolkit's cuda_fp16.h: __half and its conversions (emu_half.h:
// round to nearest even, as the GPU's cvt.rn.f16.f32 does).
#ifndef SPECULA_CUDA_EMU_FP16_H
#define SPECULA_CUDA_EMU_FP16_H

#include "cuda_emu.h"

struct __half_raw {
    unsigned short x;
};

#include "emu_half.h"

struct __half {
    unsigned short __x;
    __half() = default;
    __half(__half_raw r) : __x(r.x) {}
    __half(float f) : __x(::emu::float_to_half_bits(f)) {}
    __half(double f) : __x(::emu::float_to_half_bits((float)f)) {}
    operator float() const { return ::emu::half_bits_to_float(__x); }
    operator __half_raw() const { return __half_raw{__x}; }
};
typedef __half half;

struct __attribute__((aligned(4))) __half2 {
    __half x, y;
};
typedef __half2 half2;

inline __half __float2half(float f) { return __half_raw{::emu::float_to_half_bits(f)}; }
inline __half __float2half_rn(float f) { return __half_raw{::emu::float_to_half_bits(f)}; }
inline float __half2float(__half h) { return ::emu::half_bits_to_float(h.__x); }
inline __half __ushort_as_half(unsigned short u) { return __half_raw{u}; }
inline unsigned short __half_as_ushort(__half h) { return h.__x; }
inline __half2 __floats2half2_rn(float a, float b) { return __half2{__float2half_rn(a), __float2half_rn(b)}; }
inline __half2 __float2half2_rn(float a) { return __half2{__float2half_rn(a), __float2half_rn(a)}; }
inline float __low2float(__half2 h) { return __half2float(h.x); }
inline float __high2float(__half2 h) { return __half2float(h.y); }
inline float2 __half22float2(__half2 h) { return float2{__half2float(h.x), __half2float(h.y)}; }

#endif
