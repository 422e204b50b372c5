"""The vocabulary of the exercise's model family: which aten operations a graph may hold, by kind.

graph.py runs only these; rules.py says which may touch what (an image, its activation vector, a
weight). Everything else, convolution and pooling included, is outside the family.
"""

from __future__ import annotations

# The exercise's model family, as aten operations. Which op may touch what is checked by structure
# (rule_problems): after one flatten of each whole image, only linear maps with fixed weights,
# elementwise functions, normalisation and dropout. Everything else, convolution and pooling
# included, breaks the rules.
LINEAR = {"linear.default", "addmm.default", "mm.default", "matmul.default"}  # activations x weights
WEIGHT_ONLY = {"t.default", "transpose.int", "permute.default"}  # rearranging: only weights may be
RESHAPE = {
    "view.default",
    "reshape.default",
    "_unsafe_view.default",
    "flatten.using_ints",
    "unflatten.int",
    "squeeze.dim",
    "squeeze.dims",
    "unsqueeze.default",
}
PASS_THROUGH = {  # copies, casts and aliases: the same values
    "contiguous.default",
    "clone.default",
    "alias.default",
    "detach.default",
    "detach_.default",
    "lift_fresh_copy.default",
    "_to_copy.default",
    "to.dtype",
}
ELEMENTWISE = (
    {
        f"{op}.default"
        for op in (
            "relu",
            "relu_",
            "tanh",
            "tanh_",
            "sigmoid",
            "sigmoid_",
            "gelu",
            "silu",
            "silu_",
            "elu",
            "selu",
            "celu",
            "leaky_relu",
            "hardtanh",
            "hardtanh_",
            "hardswish",
            "hardsigmoid",
            "mish",
            "softplus",
            "log_sigmoid",
            "prelu",
            "_prelu_kernel",
            "threshold",
            "abs",
            "neg",
            "exp",
            "log",
            "sqrt",
            "rsqrt",
            "square",
            "clamp",
            "clamp_min",
            "clamp_max",
            "sin",
            "cos",
            "sign",
            "erf",
            "reciprocal",
        )
    }
    | {
        f"{op}.{kind}"
        for op in ("add", "add_", "sub", "sub_", "mul", "mul_", "div", "div_")
        for kind in ("Tensor", "Scalar")
    }
    | {"rsub.Scalar", "pow.Tensor_Scalar"}
)
NORMALISATION = {
    "batch_norm.default",
    "_native_batch_norm_legit_no_training.default",
    "layer_norm.default",
    "native_layer_norm.default",
    "group_norm.default",
    "rms_norm.default",
}
FEATURE_WISE = {  # reductions over each image's own features (with keepdim, as F.normalize uses them)
    "mean.dim",
    "sum.dim_IntList",
    "amax.default",
    "amin.default",
    "linalg_vector_norm.default",
    "norm.ScalarOpt_dim",
    "var.correction",
    "std.correction",
    "var.dim",
    "std.dim",
    "var_mean.correction",
    "glu.default",
}
DROPOUT = {
    "dropout.default",
    "native_dropout.default",
    "alpha_dropout.default",
    "feature_dropout.default",
    "feature_alpha_dropout.default",
    "dropout_.default",
    "alpha_dropout_.default",
    "feature_dropout_.default",
    "feature_alpha_dropout_.default",
}
OUTPUT = {"softmax.int", "log_softmax.int", "_softmax.default", "_log_softmax.default"}
ALLOWED = LINEAR | WEIGHT_ONLY | RESHAPE | PASS_THROUGH | ELEMENTWISE | NORMALISATION | DROPOUT | OUTPUT
DIM_SLOT = {"linalg_vector_norm.default": 2, "norm.ScalarOpt_dim": 2}  # where dim sits (else second)
BROADCAST = {"expand.default", "expand_as.default"}  # one number per image, repeated over its features
ALLOWED = ALLOWED | FEATURE_WISE | BROADCAST | {"getitem", "cat.default"}
# checks torch.export inserts (dtype conversions, sizes): they compute nothing and are left out
DROPPED = {
    "_assert_tensor_metadata.default",
    "_assert_scalar.default",
    "sym_constrain_range_for_size.default",
}
FORBIDDEN_KINDS = [
    ("conv", "a convolution"),
    ("pool", "pooling"),
    ("unfold", "patch extraction"),
    ("im2col", "patch extraction"),
    ("upsample", "resampling"),
    ("grid_sampler", "resampling"),
    ("roll", "shifting by position"),
    ("gather", "indexing by position"),
    ("index", "indexing by position"),
    ("embedding", "a lookup table"),
]
# where each op's `training` flag sits among its arguments: True at grading time is refused
TRAINING_FLAG = {
    "batch_norm.default": 5,
    "dropout.default": 2,
    "native_dropout.default": 2,
    "alpha_dropout.default": 2,
    "feature_dropout.default": 2,
    "feature_alpha_dropout.default": 2,
    "dropout_.default": 2,
    "alpha_dropout_.default": 2,
    "feature_dropout_.default": 2,
    "feature_alpha_dropout_.default": 2,
}
