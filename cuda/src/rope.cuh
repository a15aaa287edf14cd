// RoPE's arithmetic, host-and-device (tests/native/test_cuda_formats.cu runs it on the CPU against a
// reference written from Rope.java): the launch arguments the host derives from specula_rope_params
// (YaRN's correction range as ggml_rope_yarn_corr_dims, the magnitude) and each pair's rotation.
#ifndef SPECULA_ROPE_CUH
#define SPECULA_ROPE_CUH

#include "specula.h"

#include <cmath>

namespace specula {

struct rope_args {
    int n_tokens, n_heads, head_dim, rope_dim, mode;
    float freq_base, freq_scale, ext_factor, corr_low, corr_high, magnitude;
};

// Rounded as RopeScaling.correctionDims and magnitude compute them: float operands, logarithms in
// double rounded to float.
inline rope_args rope_args_of(const specula_rope_params *p) {
    rope_args a;
    a.n_tokens = p->n_tokens;
    a.n_heads = p->n_heads;
    a.head_dim = p->head_dim;
    a.rope_dim = p->rope_dim;
    a.mode = p->mode;
    a.freq_base = p->freq_base;
    a.freq_scale = p->freq_scale;
    a.ext_factor = p->ext_factor;
    a.corr_low = a.corr_high = 0.0f;
    a.magnitude = p->attn_factor;
    if (p->ext_factor != 0.0f) {
        const float two_pi = 2.0f * 3.14159265358979323846f, log_base = 2.0f * (float)std::log((double)p->freq_base);
        const float lo = std::floor((float)p->rope_dim * (float)std::log((double)((float)p->n_ctx_orig / (p->beta_fast * two_pi))) / log_base);
        const float hi = std::ceil((float)p->rope_dim * (float)std::log((double)((float)p->n_ctx_orig / (p->beta_slow * two_pi))) / log_base);
        a.corr_low = std::fmax(0.0f, lo);
        a.corr_high = std::fmin((float)(p->rope_dim - 1), hi);
        a.magnitude = p->attn_factor * (1.0f + 0.1f * (float)std::log((double)(1.0f / p->freq_scale)));
    }
    return a;
}

// Pair p (0 .. rope_dim/2 - 1) at position pos: its frequency in double (freq_factors divide it; YaRN
// mixes interpolation and extrapolation by ggml's ramp), the angle pos * freq rounded to float, as
// the CPU path (Rope.java) and ggml do, then cos and sin times the magnitude.
__host__ __device__ inline void rope_rotation(const rope_args &a, int pos, int p, const float *freq_factors, float *c, float *s) {
    double freq = pow((double)a.freq_base, -2.0 * p / a.rope_dim);
    if (freq_factors != nullptr) freq /= (double)freq_factors[p];
    double mix = 0.0;
    if (a.ext_factor != 0.0f) {
        const double y = (p - (double)a.corr_low) / fmax(0.001, (double)a.corr_high - (double)a.corr_low);
        mix = (1.0 - fmin(1.0, fmax(0.0, y))) * a.ext_factor;
    }
    freq *= a.freq_scale * (1.0 - mix) + mix;
    const float theta = (float)pos * (float)freq;
    *c = cosf(theta) * a.magnitude;
    *s = sinf(theta) * a.magnitude;
}

// The two elements pair p rotates within a head: (2p, 2p + 1) for NORM, (p, p + rope_dim/2) for NEOX.
__host__ __device__ inline void rope_pair(const rope_args &a, int p, int *i0, int *i1) {
    const bool neox = a.mode == SPECULA_ROPE_NEOX;
    *i0 = neox ? p : 2 * p;
    *i1 = neox ? p + a.rope_dim / 2 : 2 * p + 1;
}

}  // namespace specula

#endif
