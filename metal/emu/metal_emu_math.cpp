// metal-emu: metal_stdlib's math functions that tools/metal_shim.h declares, and its 16-bit half
// where the compiler has no _Float16 (the conversions round to nearest even, as Metal's). Kept out
// of the kernels' translation unit, which must not see <cmath>'s overloads next to metal's.
#define SPECULA_METAL_EMU 1
#include "../tools/metal_shim.h"

#include <cmath>
#include <cstring>

namespace metal {
float exp(float x) { return std::exp(x); }
float exp2(float x) { return std::exp2(x); }
float log(float x) { return std::log(x); }
float log2(float x) { return std::log2(x); }
float pow(float x, float y) { return std::pow(x, y); }
float sqrt(float x) { return std::sqrt(x); }
float rsqrt(float x) { return 1.0f / std::sqrt(x); }
float sin(float x) { return std::sin(x); }
float cos(float x) { return std::cos(x); }
float fabs(float x) { return std::fabs(x); }
float abs(float x) { return std::fabs(x); }
float floor(float x) { return std::floor(x); }
float ceil(float x) { return std::ceil(x); }
float fma(float a, float b, float c) { return std::fma(a, b, c); }
float clamp(float x, float lo, float hi) { return std::fmin(std::fmax(x, lo), hi); }
bool isinf(float x) { return std::isinf(x); }
bool isnan(float x) { return std::isnan(x); }
namespace fast {
float exp(float x) { return std::exp(x); }
float exp2(float x) { return std::exp2(x); }
float sin(float x) { return std::sin(x); }
float cos(float x) { return std::cos(x); }
}  // namespace fast
namespace precise {
float exp(float x) { return std::exp(x); }
float pow(float x, float y) { return std::pow(x, y); }
float sin(float x) { return std::sin(x); }
float cos(float x) { return std::cos(x); }
}  // namespace precise
}  // namespace metal

#if !defined(SPECULA_SHIM_HALF_VECTORS)
#include "emu_half.h"
half::half(float f) : bits(emu::float_to_half_bits(f)) {}
half::operator float() const { return emu::half_bits_to_float(bits); }
#endif
