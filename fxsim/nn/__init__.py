"""The seed papers' methods, bit-exact.

=================  ===========================================================
:mod:`.requant`    gemmlowp/TFLite requantization (double and single rounding),
                   the per-channel int8 conv pipeline
:mod:`.requant_runtime`  float32-multiplier requantization as onnxruntime/
                   fbgemm do it (QLinearMatMul), torch's two quantizers
:mod:`.bn`         BN folding, Lin et al.'s shared-scale integer BN, BN ->
                   thresholds (FINN MultiThreshold, Larq Compute Engine):
                   the overview, re-exporting :mod:`.bn_fold`,
                   :mod:`.bn_shared_scale`, :mod:`.bn_thresholds` (shared
                   parameter checks in :mod:`.bn_params`)
:mod:`.norm`       shift-based BN, Range BN (paper and code), Graham's BN
:mod:`.quantizers` sign/stochastic sign + STE, McDonnell's scaled sign,
                   DoReFa, GEMMLOWP min-max, QNN linear/log, AP2
=================  ===========================================================
"""
from . import bn, norm, quantizers, requant, requant_runtime
from .bn import (apply_folded_bn, apply_shared_scale_bn, apply_thresholds, fold_bn,
                 shared_scale_bn, thresholds_kbit, thresholds_sign)
from .norm import (graham_bn, graham_bn_backward, range_bn, range_bn_backward, range_bn_scale,
                   shift_bn)
from .quantizers import (ap2, dorefa_activations, dorefa_weights, gemmlowp_quantize, linear_quant,
                         log_quant, mcdonnell_scale, quantize_k, scaled_sign, sign,
                         ste_grad, stochastic_sign)
from .requant import (multiply_by_quantized_multiplier, quantize_multiplier, quantized_conv2d,
                      requantize, rounding_divide_by_pot, saturating_rounding_doubling_high_mul)
from .requant_runtime import (float32_multiplier, qlinear_conv, qlinear_matmul,
                              requantize_float32, torch_fake_quantize_per_tensor_affine,
                              torch_quantize_per_tensor)

__all__ = [
    "bn", "norm", "quantizers", "requant", "requant_runtime",
    "apply_folded_bn", "apply_shared_scale_bn", "apply_thresholds", "fold_bn", "shared_scale_bn",
    "thresholds_kbit", "thresholds_sign",
    "graham_bn", "graham_bn_backward", "range_bn", "range_bn_backward", "range_bn_scale", "shift_bn",
    "ap2", "dorefa_activations", "dorefa_weights", "gemmlowp_quantize", "linear_quant", "log_quant",
    "mcdonnell_scale", "quantize_k", "scaled_sign", "sign", "ste_grad", "stochastic_sign",
    "multiply_by_quantized_multiplier", "quantize_multiplier", "quantized_conv2d", "requantize",
    "rounding_divide_by_pot", "saturating_rounding_doubling_high_mul",
    "float32_multiplier", "qlinear_conv", "qlinear_matmul", "requantize_float32",
    "torch_fake_quantize_per_tensor_affine", "torch_quantize_per_tensor",
]
