/**
 * The element types of GGUF tensors: how each stores its numbers, and the two operations the
 * runtime needs from every one of them, turning a run of elements into floats and taking the
 * dot product of a weight row with float activations.
 *
 * <p>{@link dev.specula.tensor.TensorFormats} gives the {@link dev.specula.tensor.TensorFormat}
 * of a type or of a tensor; a tensor of a type Specula cannot compute with is refused there,
 * with {@link dev.specula.tensor.UnsupportedTensorTypeException} naming it. Supported: F32, F16,
 * BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, each
 * bit-exact to ggml's definition.
 *
 * <p>Every format has a fast path written with the JDK Vector API at the platform's float
 * vector width (4, 8 or 16 lanes; see {@code Lanes}) and a scalar twin written straight from
 * the definition, which the tests hold the fast path to.
 */
package dev.specula.tensor;
