"""Every public function of course_utils says no clearly: a sweep of bad inputs.

Each public function (or class) with arguments has a *spec* below: one good call,
with each argument tagged by its kind. The sweep breaks one argument at a time in
the ways that kind can be wrong (NaN, a wrong shape, a string, a float where an
integer is meant, a negative size, a model of the wrong kind ...) and expects a
``ValueError``, ``TypeError`` or ``FloatingPointError`` whose message names the
argument. Functions left out are listed in ``EXEMPT`` with the reason; a new public
function in neither place fails ``test_every_public_function_is_swept``.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import pkgutil

import matplotlib

matplotlib.use("Agg")

import jax  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from flax import nnx  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from course_utils import core, display, part1, part2  # noqa: E402
from course_utils.core import training  # noqa: E402
from course_utils.part1 import data, models  # noqa: E402
from course_utils.part2 import cnn, gan, textures, upsampling, vae  # noqa: E402

ERRORS = (ValueError, TypeError, FloatingPointError)


# --- what each kind of argument may be, and how it can be wrong ---------------------

class Kind:
    """How an argument of one kind can be broken: a list of (label, bad value)."""

    def __init__(self, *bad):
        self.bad = bad


def _nan_like(a):
    a = np.array(a, np.float32, copy=True)
    a.flat[0] = np.nan
    return a


class ArrayKind(Kind):
    """A float array: NaN, infinity, an extra axis, or no numbers at all."""

    def breakages(self, good):
        good = np.asarray(good)
        inf = np.array(good, np.float32, copy=True)
        inf.flat[-1] = np.inf
        return [("NaN", _nan_like(good)), ("inf", inf), ("an extra axis", good[None]), ("text", "abc")]


ARRAY = ArrayKind()
SHAPE_ONLY = type("ShapeKind", (ArrayKind,), {"breakages": lambda self, good: [
    ("an extra axis", np.asarray(good)[None]), ("text", "abc")]})()  # integer data: NaN cannot be written in
FLEX = type("FlexKind", (ArrayKind,), {"breakages": lambda self, good: [
    ("NaN", _nan_like(good)), ("text", "abc"), ("too few axes", np.float32(1.0))]})()  # any number of leading axes
ANY_SHAPE = type("AnyShapeKind", (ArrayKind,), {"breakages": lambda self, good: [
    ("NaN", _nan_like(good)), ("text", "abc")]})()  # numbers of any shape, one number included
POSITIVE_INT = Kind(("zero", 0), ("a float", 1.5), ("text", "3"), ("a bool", True))
NON_NEGATIVE_INT = Kind(("negative", -1), ("a float", 1.5), ("text", "3"))
NON_NEGATIVE_FLOAT = Kind(("negative", -1.0), ("NaN", float("nan")), ("text", "x"))
OPTION = Kind(("unknown", "no such option"), ("a number", 3))
MODEL = Kind(("not a model", object()), ("a number", 3))
RNGS = Kind(("an int", 0), ("None", None))
INT_SEQUENCE = Kind(("an int", 3), ("floats", [0.5]), ("text", "ab"))
CALLABLE = Kind(("a string", "mse"), ("a number", 3))
CLASS_INDEX = Kind(("out of range", 99), ("negative", -1), ("a float", 1.7))


class Spec:
    """A good call: ``Spec(function, arg=(kind, good value), ...)``; ``fixed`` args are passed, never broken."""

    def __init__(self, function, fixed=None, **args):
        self.function, self.args, self.fixed = function, args, fixed or {}

    def calls(self):
        for name, (kind, good) in self.args.items():
            bad = kind.breakages(good) if isinstance(kind, ArrayKind) else kind.bad
            for label, value in bad:
                kwargs = {**self.fixed, **{n: g for n, (_, g) in self.args.items()}, name: value}
                yield name, label, kwargs


# --- stand-ins the good calls use -----------------------------------------------------

RNG = np.random.default_rng(0)
X1 = RNG.normal(size=(3, 2)).astype(np.float32)            # a 1-D signal (length, channels)
W1 = RNG.normal(size=(5, 2, 1)).astype(np.float32)          # 1-D filters (kernel, in, out)
X2 = RNG.normal(size=(3, 3, 2)).astype(np.float32)          # a 2-D signal (h, w, channels)
W2 = RNG.normal(size=(3, 3, 2, 1)).astype(np.float32)       # 2-D filters
CURVES = data.bezier_curves(8, seed=0)
PATCHES = data.patches(CURVES)
FILTERS = RNG.normal(size=(4, 7, 3)).astype(np.float32)     # seeds x taps x components
IMAGES = RNG.uniform(size=(2, 32, 32, 1)).astype(np.float32)
MAPS = RNG.normal(size=(2, 32, 32)).astype(np.float32)
MASKS = np.zeros((2, 32, 32), bool)
MASKS[:, 10:20, 10:20] = True
GREY = RNG.normal(size=(2, 8, 8)).astype(np.float32)        # grey images (n, h, w) for the measures
DIGITS = RNG.uniform(-1, 1, size=(20, 8, 8)).astype(np.float32)
LABELS = np.arange(20) % 10
RGB = RNG.uniform(size=(16, 16, 3)).astype(np.float32)
TEX_FILTERS = textures.random_filters((3, 5), 2, seed=0)


@functools.cache
def patch_model():
    return models.PatchAutoencoder(rngs=nnx.Rngs(0))


@functools.cache
def shape_cnn():
    return cnn.ShapeCNN(rngs=nnx.Rngs(0))


@functools.cache
def curve_vae():
    return vae.CurveVAE(rngs=nnx.Rngs(0))


@functools.cache
def patch_result():
    return training.train(models.PatchAutoencoder, PATCHES, seeds=[0], progress=False,
                          config=training.TrainConfig(steps=2, snapshot_every=1))


@functools.cache
def digit_generator():
    return gan.Generator(rngs=nnx.Rngs(0))


@functools.cache
def digit_gan():
    return gan.GAN(rngs=nnx.Rngs(0))


@functools.cache
def digit_classifier():
    return gan.train_classifier(DIGITS, LABELS)


AX = plt.figure().add_subplot()


def linear_forward(images, activation=None):
    return images.reshape(images.shape[0], -1)[:, :5]


def m(path: str):
    """The public function ``module.name`` of course_utils."""
    module, name = path.split(".")
    for package in (core, display, part1, part2):
        try:
            return getattr(importlib.import_module(f"{package.__name__}.{module}"), name)
        except ModuleNotFoundError:
            continue
    raise LookupError(path)


# --- the specs: one good call per public function -----------------------------------

@functools.cache
def specs() -> dict[str, Spec]:
    S = Spec
    return {
        # core
        "deconv.output_length": S(m("deconv.output_length"), n_inputs=(POSITIVE_INT, 3), kernel=(POSITIVE_INT, 7),
                                  stride=(POSITIVE_INT, 4), padding=(NON_NEGATIVE_INT, 0),
                                  output_padding=(NON_NEGATIVE_INT, 0)),
        "deconv.conv_output_length": S(m("deconv.conv_output_length"), n_signal=(POSITIVE_INT, 15),
                                       kernel=(POSITIVE_INT, 7), stride=(POSITIVE_INT, 4),
                                       padding=(NON_NEGATIVE_INT, 0)),
        "deconv.check_signal_and_filters": S(m("deconv.check_signal_and_filters"), x=(ARRAY, X1), w=(ARRAY, W1)),
        "deconv.contributions": S(m("deconv.contributions"), x=(ARRAY, X1), w=(ARRAY, W1), stride=(POSITIVE_INT, 2)),
        "deconv.conv_transpose_1d": S(m("deconv.conv_transpose_1d"), x=(ARRAY, X1), w=(ARRAY, W1),
                                      stride=(POSITIVE_INT, 2)),
        "deconv.overlap_counts": S(m("deconv.overlap_counts"), n_inputs=(POSITIVE_INT, 3), kernel=(POSITIVE_INT, 7),
                                   stride=(POSITIVE_INT, 4)),
        "deconv.output_shape_2d": S(m("deconv.output_shape_2d"), n_inputs=(POSITIVE_INT, 3),
                                    kernel=(POSITIVE_INT, 3), stride=(POSITIVE_INT, 2)),
        "deconv.conv_transpose_2d": S(m("deconv.conv_transpose_2d"), x=(ARRAY, X2), w=(ARRAY, W2),
                                      stride=(POSITIVE_INT, 2)),
        "deconv.interior_overlap_counts": S(m("deconv.interior_overlap_counts"), n_inputs=(POSITIVE_INT, 4),
                                            kernel=(POSITIVE_INT, 3), stride=(POSITIVE_INT, 2)),
        "gan.generator_loss": S(m("gan.generator_loss"), fake_logits=(ARRAY, np.zeros(4))),
        "synthesis.inversion_loss": S(m("synthesis.inversion_loss"), model=(MODEL, shape_cnn()), x=(ARRAY, IMAGES),
                                      originals=(ARRAY, IMAGES), layer=(OPTION, "act1"),
                                      tv_weight=(NON_NEGATIVE_FLOAT, 0.0)),
        "static_explorer.slider_positions": S(m("static_explorer.slider_positions"), fixed={"integer": True},
                                              lo=(Kind(("text", "a")), 0),
                                              hi=(Kind(("below lo", -1), ("text", "b")), 8),
                                              step=(Kind(("zero", 0), ("negative", -1)), 1),
                                              start=(Kind(("outside", 9), ("text", "4")), 4),
                                              max_positions=(Kind(("one", 1), ("text", "21")), 21)),
        "exercise.solution": S(m("exercise.solution"), name=(OPTION, "curve_from_basis")),
        "exercise.verdict": S(m("exercise.verdict"), fixed={"answer": 1.0, "expected": 1.0, "what": "a number"},
                              atol=(NON_NEGATIVE_FLOAT, 1e-5), rtol=(NON_NEGATIVE_FLOAT, 1e-4)),
        "training.TrainConfig": S(m("training.TrainConfig"), steps=(POSITIVE_INT, 10), batch_size=(POSITIVE_INT, 4),
                                  learning_rate=(NON_NEGATIVE_FLOAT, 0.01), steps_per_chunk=(POSITIVE_INT, 5)),
        "training.train": S(m("training.train"), fixed={"progress": False},
                            make_model=(MODEL, models.PatchAutoencoder), data=(ARRAY, PATCHES),
                            seeds=(INT_SEQUENCE, [0]), loss=(CALLABLE, None),
                            config=(Kind(("a dict", {"steps": 2})), training.TrainConfig(steps=2))),
        "training.batch_rows": S(m("training.batch_rows"), seed=(NON_NEGATIVE_INT, 0), n_rows=(POSITIVE_INT, 10)),
        "devices.padded_length": S(m("devices.padded_length"), n=(POSITIVE_INT, 3), multiple=(POSITIVE_INT, 2)),
        # display
        "explorer.Control": S(m("explorer.Control"), fixed={"name": "p"}, lo=(Kind(("text", "a")), 0.0),
                              hi=(Kind(("below lo", -1.0), ("text", "b")), 1.0),
                              step=(Kind(("zero", 0), ("negative", -0.1)), 0.1)),
        "frames.moving_artists": S(m("frames.moving_artists"), items=(Kind(("text", "line"), ("a number", 3)), [])),
        "frames.FigureFrames": S(m("frames.FigureFrames"), figure=(Kind(("not a figure", "fig")), plt.figure()),
                                 moving=(Kind(("no artists", []), ("text", ["line"])), None)),
        "frames.render_frames": S(m("frames.render_frames"), figure=(Kind(("not a figure", "fig")), plt.figure()),
                                  artists=(Kind(("text", ["line"])), {}),
                                  frames=(Kind(("none", [])), [0]), draw=(CALLABLE, lambda a, i: None)),
        "player.html_player": S(m("player.html_player"), frames=(Kind(("none", []), ("text", ["png"])), [b"x"]),
                                fps=(Kind(("zero", 0), ("too many", 1000), ("text", "6")), 6)),
        "explorer.interactive_figure": S(m("explorer.interactive_figure"), figure=(Kind(), plt.figure()),
                                         moving=(Kind(), None), update=(CALLABLE, lambda: None),
                                         controls=(Kind(("plain values", {"p": 0.0}), ("none", {})), {})),
        # part1
        "analysis.align_filters": S(m("analysis.align_filters"), filters=(ARRAY, FILTERS),
                                    reference=(CLASS_INDEX, 0)),
        "analysis.consistency": S(m("analysis.consistency"), filters=(ARRAY, FILTERS)),
        "analysis.ablation_mse": S(m("analysis.ablation_mse"), model=(MODEL, patch_model()), data=(ARRAY, PATCHES)),
        "analysis.principal_directions": S(m("analysis.principal_directions"), data=(ARRAY, PATCHES)),
        "analysis.principal_angles_deg": S(m("analysis.principal_angles_deg"), span_a=(ARRAY, np.eye(7, 2)),
                                           span_b=(ARRAY, np.eye(7, 2))),
        "analysis.filter_angles_deg": S(m("analysis.filter_angles_deg"), filters=(ARRAY, FILTERS[0]),
                                        directions=(ARRAY, np.eye(7, 2))),
        "analysis.roughness": S(m("analysis.roughness"), filters=(ARRAY, FILTERS)),
        "animations.sweep": S(m("animations.sweep"), component=(CLASS_INDEX, 0), base=(ARRAY, (0.0, 0.0, 0.0)),
                              frames=(POSITIVE_INT, 4), amplitude=(NON_NEGATIVE_FLOAT, 0.5)),
        "animations.tour": S(m("animations.tour"), frames=(POSITIVE_INT, 4), amplitude=(NON_NEGATIVE_FLOAT, 0.5)),
        "animations.decoder_figure": S(m("animations.decoder_figure"), filters=(ARRAY, FILTERS[0]),
                                       bias=(Kind(("NaN", float("nan")), ("text", "0")), 0.0),
                                       ylim=(POSITIVE_NUMBER, 0.8), dpi=(POSITIVE_INT, 50)),
        "animations.output_limit": S(m("animations.output_limit"), filters=(ARRAY, FILTERS[0]),
                                     bias=(Kind(("NaN", float("nan"))), 0.0), codes=(ARRAY, np.zeros((2, 3)))),
        "animations.decoder_animation": S(m("animations.decoder_animation"), model=(MODEL, patch_model()),
                                          codes=(ARRAY, np.zeros((2, 3))), fps=(POSITIVE_NUMBER, 6)),
        "animations.training_figure": S(m("animations.training_figure"), losses=(ARRAY, np.ones((2, 30))),
                                        encoder_limit=(POSITIVE_NUMBER, 1.0), decoder_limit=(POSITIVE_NUMBER, 1.0)),
        "animations.training_animation": S(m("animations.training_animation"),
                                           result=(Kind(("not a result", 3)), patch_result()),
                                           seed_index=(CLASS_INDEX, 0), fps=(POSITIVE_NUMBER, 6)),
        "animations.painting_frames": S(m("animations.painting_frames"), model=(MODEL, patch_model()),
                                        curve=(ARRAY, CURVES[0])),
        "animations.painting_figure": S(m("animations.painting_figure"), curve=(ARRAY, CURVES[0]),
                                        ylim=(POSITIVE_NUMBER, 0.8)),
        "animations.painting_animation": S(m("animations.painting_animation"), model=(MODEL, patch_model()),
                                           curve=(ARRAY, CURVES[0]), fps=(POSITIVE_NUMBER, 4)),
        "data.curves_from_parameters": S(m("data.curves_from_parameters"), p1=(ARRAY, [0.1, 0.2]),
                                         p2=(ARRAY, [0.3, 0.4])),
        "data.bezier_parameters": S(m("data.bezier_parameters"), n=(POSITIVE_INT, 4), seed=(NON_NEGATIVE_INT, 0)),
        "data.bezier_curves": S(m("data.bezier_curves"), n=(POSITIVE_INT, 4), seed=(NON_NEGATIVE_INT, 0)),
        "data.course_curves": S(m("data.course_curves"), seed=(NON_NEGATIVE_INT, 0)),
        "data.patches": S(m("data.patches"), curves=(ARRAY, CURVES), offsets=(OPTION, "all")),
        "explorers.curve_explorer": S(m("explorers.curve_explorer"), p1=(SLIDER, 0.6), p2=(SLIDER, -0.4)),
        "explorers.reconstruction_explorer": S(m("explorers.reconstruction_explorer"), model=(MODEL, patch_model()),
                                               p1=(SLIDER, 0.6), offset=(SLIDER, 4)),
        "explorers.latent_explorer_figure": S(m("explorers.latent_explorer_figure"), model=(MODEL, patch_model())),
        "explorers.latent_explorer": S(m("explorers.latent_explorer"), model=(MODEL, patch_model()),
                                       code=(Kind(("two numbers", (0.1, 0.2)), ("text", "abc")), (0.0, 0.1, 0.2))),
        "explorers.encoder_explorer_figure": S(m("explorers.encoder_explorer_figure"), model=(MODEL, patch_model())),
        "explorers.encoder_explorer": S(m("explorers.encoder_explorer"), model=(MODEL, patch_model()),
                                        p2=(SLIDER, -0.4), offset=(SLIDER, 4)),
        "explorers.full_curve_explorer": S(m("explorers.full_curve_explorer"),
                                           reconstructors=(Kind(("a list", [len]), ("no functions", {"a": 1}), ("none", {})),
                                                           {"exact": lambda c: c}), p1=(SLIDER, 0.6)),
        "explorers.size_explorer": S(m("explorers.size_explorer"), n_inputs=(SLIDER, 3), kernel=(SLIDER, 7),
                                     stride=(SLIDER, 4), padding=(SLIDER, 0)),
        "full_curve.tap_weights": S(m("full_curve.tap_weights"), fix=(OPTION, "none")),
        "full_curve.coverage": S(m("full_curve.coverage"), fix=(OPTION, "none"), n_windows=(POSITIVE_INT, 3)),
        "full_curve.decode_windows": S(m("full_curve.decode_windows"), model=(MODEL, patch_model()),
                                       code=(ARRAY, np.zeros((2, 3, 3))), fix=(OPTION, "none")),
        "full_curve.reconstruct": S(m("full_curve.reconstruct"), model=(MODEL, patch_model()), curves=(ARRAY, CURVES),
                                    fix=(OPTION, "none")),
        "full_curve.error_by_position": S(m("full_curve.error_by_position"), reconstruction=(ARRAY, CURVES),
                                          curves=(ARRAY, CURVES)),
        "full_curve.assembled": S(m("full_curve.assembled"), models=(Kind(("not models", [3]), ("none", [])),
                                                                    [patch_model()]), fix=(OPTION, "none")),
        "full_curve.end_to_end": S(m("full_curve.end_to_end"), models=(Kind(("not models", [3]), ("none", [])),
                                                                      [patch_model()])),
        "full_curve.compare": S(m("full_curve.compare"), variants=(Kind(("not functions", {"a": [3]}), ("none", {})),
                                                                   {"exact": [lambda c: c]}), curves=(ARRAY, CURVES)),
        "full_curve.region_errors": S(m("full_curve.region_errors"), errors=(ARRAY, np.zeros((2, 15)))),
        "full_curve.error_table": S(m("full_curve.error_table"),
                                    errors=(Kind(("not arrays", {"a": "x"}), ("none", {})), {"a": np.zeros((2, 15))})),
        "losses.reconstruction_loss": S(m("losses.reconstruction_loss"),
                                        code_noise=(Kind(("one number", 0.1), ("negative", (-0.1,)), ("none", ())), None),
                                        input_noise=(NON_NEGATIVE_FLOAT, 0.0),
                                        weights=(Kind(("negative", (-1.0,)), ("all zero", (0.0,))), None)),
        "losses.reconstruction_mse": S(m("losses.reconstruction_mse"), result=(Kind(("not a result", 3)),
                                                                            patch_result()), data=(ARRAY, PATCHES)),
        "models.PatchEncoder": S(m("models.PatchEncoder"), rngs=(RNGS, nnx.Rngs(0)), activation=(OPTION, "tanh")),
        "models.PatchDecoder": S(m("models.PatchDecoder"), rngs=(RNGS, nnx.Rngs(0))),
        "models.PatchAutoencoder": S(m("models.PatchAutoencoder"), rngs=(RNGS, nnx.Rngs(0)),
                                     activation=(OPTION, "tanh")),
        "models.TiedPatchAutoencoder": S(m("models.TiedPatchAutoencoder"), rngs=(RNGS, nnx.Rngs(0)),
                                         activation=(OPTION, "tanh")),
        "plotting.running_mean": S(m("plotting.running_mean"), values=(ARRAY, np.ones((2, 10))), window=(POSITIVE_INT, 3)),
        "plotting.loss_band": S(m("plotting.loss_band"), fixed={"label": "loss"}, ax=(AXES, AX),
                                losses=(ARRAY, np.ones((2, 10))), smooth=(POSITIVE_INT, 3)),
        "plotting.curve_axes": S(m("plotting.curve_axes"), ax=(AXES, AX)),
        "plotting.shade_windows": S(m("plotting.shade_windows"), ax=(AXES, AX), width=(POSITIVE_INT, 7)),
        "plotting.patch_axes": S(m("plotting.patch_axes"), ax=(AXES, AX), ylim=(POSITIVE_NUMBER, 0.8)),
        "plotting.scaled_filter_lines": S(m("plotting.scaled_filter_lines"), ax=(AXES, AX)),
        "views.by_painting": S(m("views.by_painting"), x=(ARRAY, X1), w=(ARRAY, W1), stride=(POSITIVE_INT, 2)),
        "views.dilate": S(m("views.dilate"), x=(ARRAY, X1), stride=(POSITIVE_INT, 2)),
        "views.by_dilated_convolution": S(m("views.by_dilated_convolution"), x=(ARRAY, X1), w=(ARRAY, W1),
                                          stride=(POSITIVE_INT, 2)),
        "views.by_lhs_dilation": S(m("views.by_lhs_dilation"), x=(ARRAY, X1), w=(ARRAY, W1), stride=(POSITIVE_INT, 2)),
        "views.conv_matrix": S(m("views.conv_matrix"), length=(POSITIVE_INT, 3), w=(ARRAY, W1),
                               stride=(POSITIVE_INT, 2)),
        "views.by_matrix_transpose": S(m("views.by_matrix_transpose"), x=(ARRAY, X1), w=(ARRAY, W1),
                                       stride=(POSITIVE_INT, 2)),
        "views.by_gradient": S(m("views.by_gradient"), x=(ARRAY, X1), w=(ARRAY, W1), stride=(POSITIVE_INT, 2)),
        "views.output_padding_needed": S(m("views.output_padding_needed"), n_signal=(POSITIVE_INT, 15),
                                         kernel=(POSITIVE_INT, 7), stride=(POSITIVE_INT, 4),
                                         padding=(NON_NEGATIVE_INT, 0)),
        "views.lax_padding": S(m("views.lax_padding"), kernel=(POSITIVE_INT, 7), padding=(NON_NEGATIVE_INT, 0),
                               output_padding=(NON_NEGATIVE_INT, 0)),
        "views.lax_length_mismatches": S(m("views.lax_length_mismatches"), ns=(INT_SEQUENCE, [1, 2]),
                                         kernels=(INT_SEQUENCE, [3]), strides=(INT_SEQUENCE, [2])),
        # part2
        "attribution.gradient": S(m("attribution.gradient"), forward=(CALLABLE, linear_forward), images=(ARRAY, IMAGES),
                                  classes=(CLASS_INDEX, 0)),
        "attribution.saliency": S(m("attribution.saliency"), forward=(CALLABLE, linear_forward), images=(ARRAY, IMAGES),
                                  classes=(CLASS_INDEX, 0)),
        "attribution.gradient_x_input": S(m("attribution.gradient_x_input"), forward=(CALLABLE, linear_forward),
                                          images=(ARRAY, IMAGES), classes=(CLASS_INDEX, 0)),
        "attribution.integrated_gradients": S(m("attribution.integrated_gradients"), forward=(CALLABLE, linear_forward),
                                              images=(ARRAY, IMAGES), classes=(CLASS_INDEX, 0),
                                              steps=(POSITIVE_INT, 4)),
        "attribution.patch_starts": S(m("attribution.patch_starts"), length=(POSITIVE_INT, 8), patch=(POSITIVE_INT, 4),
                                      stride=(POSITIVE_INT, 2)),
        "attribution.occlusion": S(m("attribution.occlusion"), forward=(CALLABLE, linear_forward),
                                   images=(ARRAY, IMAGES), classes=(CLASS_INDEX, 0), patch=(POSITIVE_INT, 8),
                                   stride=(POSITIVE_INT, 4), value=(Kind(("text", "grey")), None)),
        "attribution.dilate_masks": S(m("attribution.dilate_masks"), masks=(SHAPE_ONLY, MASKS),
                                      pixels=(NON_NEGATIVE_INT, 1)),
        "attribution.on_object_share": S(m("attribution.on_object_share"), attribution_maps=(ARRAY, MAPS),
                                         masks=(SHAPE_ONLY, MASKS), dilate=(NON_NEGATIVE_INT, 1)),
        "attribution.rank_correlation": S(m("attribution.rank_correlation"), maps_a=(ARRAY, MAPS),
                                          maps_b=(ARRAY, MAPS)),
        "attribution.pool_switches": S(m("attribution.pool_switches"), x=(ARRAY, IMAGES)),
        "attribution.unpool": S(m("attribution.unpool"), signal=(ARRAY, IMAGES[:, :16, :16]),
                                switches=(SHAPE_ONLY, np.zeros((2, 16, 16, 1), np.int32))),
        "attribution.transposed_filter": S(m("attribution.transposed_filter"), signal=(ARRAY, IMAGES),
                                           kernel=(ARRAY, np.ones((3, 3, 2, 1), np.float32))),
        "attribution.deconvnet_projection": S(m("attribution.deconvnet_projection"), model=(MODEL, shape_cnn()),
                                              images=(ARRAY, IMAGES), layer=(OPTION, "act1"),
                                              signal=(ARRAY, np.ones((2, 32, 32, 8), np.float32))),
        "attribution.strongest_unit": S(m("attribution.strongest_unit"), model=(MODEL, shape_cnn()),
                                        images=(ARRAY, IMAGES), layer=(OPTION, "act1"), channel=(CLASS_INDEX, 0)),
        "attribution_lesson.mask_outline": S(m("attribution_lesson.mask_outline"), mask=(SHAPE_ONLY, MASKS[0])),
        "attribution_lesson.attribution_scene": S(m("attribution_lesson.attribution_scene"), images=(ARRAY, IMAGES),
                                                  labels=(CLASS_INDEX_ARRAY, np.array([0, 1])),
                                                  masks=(SHAPE_ONLY, MASKS),
                                                  maps=(Kind(("not a dict", [MAPS]), ("none", {})), {"saliency": MAPS})),
        "attribution_lesson.attribution_explorer": S(m("attribution_lesson.attribution_explorer"),
                                                     images=(ARRAY, IMAGES),
                                                     labels=(CLASS_INDEX_ARRAY, np.array([0, 1])),
                                                     masks=(SHAPE_ONLY, MASKS),
                                                     maps=(Kind(("not a dict", [MAPS])), {"saliency": MAPS}),
                                                     image=(SLIDER, 0)),
        "checkerboard.nyquist_fraction": S(m("checkerboard.nyquist_fraction"), images=(FLEX, GREY)),
        "checkerboard.white_noise_nyquist_fraction": S(m("checkerboard.white_noise_nyquist_fraction"),
                                                       height=(POSITIVE_INT, 8), width=(POSITIVE_INT, 8)),
        "checkerboard.parity_class_means": S(m("checkerboard.parity_class_means"), images=(FLEX, GREY),
                                             period=(POSITIVE_INT, 2)),
        "checkerboard.parity_spread": S(m("checkerboard.parity_spread"), images=(FLEX, GREY), period=(POSITIVE_INT, 2)),
        "checkerboard.parity_variance_spread": S(m("checkerboard.parity_variance_spread"), images=(FLEX, GREY),
                                                 period=(POSITIVE_INT, 2)),
        "checkerboard.white_noise": S(m("checkerboard.white_noise"), n=(POSITIVE_INT, 2), height=(POSITIVE_INT, 8),
                                      width=(POSITIVE_INT, 8), seed=(NON_NEGATIVE_INT, 0)),
        "checkerboard.artifact_table": S(m("checkerboard.artifact_table"),
                                         images_by_name=(Kind(("not a dict", [GREY]), ("none", {})), {"a": GREY})),
        "checkerboard.subkernel_sums": S(m("checkerboard.subkernel_sums"), kernel=(FLEX, np.ones((4, 4))),
                                         stride=(POSITIVE_INT, 2)),
        "checkerboard.energy_share_spectrum": S(m("checkerboard.energy_share_spectrum"), images=(FLEX, GREY)),
        "checkerboard.constant_input_response": S(m("checkerboard.constant_input_response"),
                                                  layer=(MODEL, upsampling.Upsample2x("transposed k3 s2", 2, 1,
                                                                                      rngs=nnx.Rngs(0))),
                                                  size=(POSITIVE_INT, 4)),
        "checkerboard.subkernel_balance": S(m("checkerboard.subkernel_balance"), kind=(OPTION, "transposed k3 s2"),
                                            keys=(INT_SEQUENCE, [0]), in_features=(POSITIVE_INT, 2),
                                            out_features=(POSITIVE_INT, 1)),
        "checkerboard.strided_conv": S(m("checkerboard.strided_conv"), image=(ARRAY, GREY[0]),
                                       w=(ARRAY, np.ones((3, 3)))),
        "checkerboard.input_gradients": S(m("checkerboard.input_gradients"), kernels=(ARRAY, np.ones((2, 3, 3))),
                                          output_grads=(ARRAY, GREY[:, :4, :4])),
        "checkerboard.parity_class_variances": S(m("checkerboard.parity_class_variances"), images=(FLEX, GREY)),
        "checkerboard_lesson.format_table": S(m("checkerboard_lesson.format_table"),
                                              table=(Kind(("not a dict", [1]), ("none", {})),
                                                     {"a": {"m": np.zeros(2)}})),
        "checkerboard_lesson.separation": S(m("checkerboard_lesson.separation"),
                                            measures=(Kind(("not a dict", [1]), ("missing kinds", {"a": np.zeros(2)})),
                                                      {k: np.zeros(2) for k in upsampling.UPSAMPLERS})),
        "checkerboard_lesson.plot_overlap_counts": S(m("checkerboard_lesson.plot_overlap_counts"),
                                                     cases=(Kind(("text", "k3"), ("none", [])), [(3, 2)]),
                                                     n_in=(POSITIVE_INT, 4)),
        "checkerboard_lesson.plot_generator_outputs": S(m("checkerboard_lesson.plot_generator_outputs"),
                                                        images=(Kind(("not a dict", [GREY]), ("none", {})),
                                                                {"a": np.zeros((2, 32, 32))}),
                                                        crop=(POSITIVE_INT, 16), period=(POSITIVE_INT, 4)),
        "checkerboard_lesson.random_transposed_generator": S(m("checkerboard_lesson.random_transposed_generator"),
                                                             kernel=(POSITIVE_INT, 3), stride=(POSITIVE_INT, 2),
                                                             seed=(NON_NEGATIVE_INT, 0)),
        "checkerboard_lesson.overlap_explorer": S(m("checkerboard_lesson.overlap_explorer"), kernel=(SLIDER, 3),
                                                  stride=(SLIDER, 2)),
        "cnn.max_pool": S(m("cnn.max_pool"), x=(ARRAY, IMAGES)),
        "cnn.ShapeCNN": S(m("cnn.ShapeCNN"), rngs=(RNGS, nnx.Rngs(0)), n_classes=(POSITIVE_INT, 5),
                          activation=(CALLABLE, jax.nn.relu)),
        "cnn.class_scores": S(m("cnn.class_scores"), model=(MODEL, shape_cnn()), images=(ARRAY, IMAGES),
                              classes=(CLASS_INDEX_ARRAY, np.array([0, 1]))),
        "cnn.cross_entropy_loss": S(m("cnn.cross_entropy_loss"), model=(MODEL, shape_cnn()),
                                    batch=(Kind(("one array", IMAGES), ("labels out of range", (IMAGES, np.array([0, 9])))),
                                           (IMAGES, np.array([0, 1])))),
        "cnn.accuracy": S(m("cnn.accuracy"), model=(MODEL, shape_cnn()), images=(ARRAY, IMAGES),
                          labels=(CLASS_INDEX_ARRAY, np.array([0, 1])), batch_size=(POSITIVE_INT, 10)),
        "cnn.reinitialise": S(m("cnn.reinitialise"), model=(MODEL, shape_cnn()),
                              layers=(Kind(("unknown", ["conv9"]), ("a number", 3)), ["head"]),
                              seed=(NON_NEGATIVE_INT, 0)),
        "cnn.receptive_field": S(m("cnn.receptive_field"), layer=(OPTION, "act2")),
        "cnn.patch_origin": S(m("cnn.patch_origin"), layer=(OPTION, "act2"), row=(NON_NEGATIVE_INT, 0),
                              col=(NON_NEGATIVE_INT, 0)),
        "cnn.top_patches": S(m("cnn.top_patches"), model=(MODEL, shape_cnn()), images=(ARRAY, IMAGES),
                             layer=(OPTION, "act2"), channel=(CLASS_INDEX, 0), k=(POSITIVE_INT, 1),
                             batch_size=(POSITIVE_INT, 10)),
        "cnn.layer_maps": S(m("cnn.layer_maps"), model=(MODEL, shape_cnn()), images=(ARRAY, IMAGES),
                            layer=(OPTION, "act2"), batch_size=(POSITIVE_INT, 10)),
        "cnn.padded_batch_size": S(m("cnn.padded_batch_size"), n=(POSITIVE_INT, 3)),
        "cnn.check_shape_cnn": S(m("cnn.check_shape_cnn"), model=(MODEL, shape_cnn())),
        "gan.scale_digits": S(m("gan.scale_digits"), pixels=(ANY_SHAPE, np.zeros((2, 8, 8)))),
        "gan.split": S(m("gan.split"), n=(POSITIVE_INT, 10), held_out=(Kind(("one", 1.0), ("negative", -0.1)), 0.25),
                       seed=(NON_NEGATIVE_INT, 0)),
        "gan.Generator": S(m("gan.Generator"), rngs=(RNGS, nnx.Rngs(0)), kind=(OPTION, gan.KINDS[0]),
                           channels=(POSITIVE_INT, 8)),
        "gan.Discriminator": S(m("gan.Discriminator"), rngs=(RNGS, nnx.Rngs(0)), channels=(POSITIVE_INT, 8)),
        "gan.GAN": S(m("gan.GAN"), rngs=(RNGS, nnx.Rngs(0)), kind=(OPTION, gan.KINDS[0]),
                     generator_channels=(POSITIVE_INT, 8), discriminator_channels=(POSITIVE_INT, 8)),
        "gan.gan_loss": S(m("gan.gan_loss"), fixed={"key": jax.random.key(0)}, model=(MODEL, digit_gan()),
                          batch=(ARRAY, DIGITS[..., None])),
        "gan.latents": S(m("gan.latents"), n=(POSITIVE_INT, 2), seed=(NON_NEGATIVE_INT, 0)),
        "gan.generate": S(m("gan.generate"), generator=(MODEL, digit_generator()), z=(ARRAY, np.zeros((2, gan.LATENT)))),
        "gan.train_classifier": S(m("gan.train_classifier"), images=(ARRAY, DIGITS),
                                  labels=(CLASS_INDEX_ARRAY, LABELS)),
        "gan.class_coverage": S(m("gan.class_coverage"), labels=(CLASS_INDEX_ARRAY, LABELS),
                                min_share=(Kind(("negative", -0.1), ("above one", 1.5)), 0.02)),
        "gan.judge": S(m("gan.judge"), classifier=(MODEL, digit_classifier()), images=(ARRAY, DIGITS)),
        "gan.frechet_distance": S(m("gan.frechet_distance"), a=(ARRAY, DIGITS), b=(ARRAY, DIGITS)),
        "gan.nearest_distances": S(m("gan.nearest_distances"), images=(ARRAY, DIGITS), reference=(ARRAY, DIGITS)),
        "gan.uniform_noise": S(m("gan.uniform_noise"), n=(POSITIVE_INT, 2), seed=(NON_NEGATIVE_INT, 0)),
        "gan.snapshot_samples": S(m("gan.snapshot_samples"), fixed={"z": np.zeros((2, gan.LATENT))},
                                  result=(Kind(("not a result", 3)), None)),
        "gan.smoothed": S(m("gan.smoothed"), values=(FLEX, np.ones(60)), window=(POSITIVE_INT, 5)),
        "gan_lesson.digit_grid": S(m("gan_lesson.digit_grid"), ax=(AXES, AX), images=(ARRAY, DIGITS),
                                   columns=(POSITIVE_INT, 10)),
        "gan_lesson.latent_directions": S(m("gan_lesson.latent_directions"), seed=(NON_NEGATIVE_INT, 0)),
        "gan_lesson.digit_latent_explorer": S(m("gan_lesson.digit_latent_explorer"),
                                              generator=(MODEL, digit_generator()), classifier=(MODEL, digit_classifier()),
                                              a=(SLIDER, 0.0)),
        "gan_lesson.latent_circle": S(m("gan_lesson.latent_circle"), frames=(POSITIVE_INT, 4),
                                      seed=(NON_NEGATIVE_INT, 0)),
        "gan_lesson.latent_walk_animation": S(m("gan_lesson.latent_walk_animation"),
                                              generator=(MODEL, digit_generator()), classifier=(MODEL, digit_classifier()),
                                              latents=(ARRAY, np.zeros((2, gan.LATENT)))),
        "judge_cnn.JudgeCNN": S(m("judge_cnn.JudgeCNN"), rngs=(RNGS, nnx.Rngs(0)), n_classes=(POSITIVE_INT, 5)),
        "judge_cnn.probabilities": S(m("judge_cnn.probabilities"), model=(MODEL, shape_cnn()), images=(ARRAY, IMAGES)),
        "sanity.attribution_maps": S(m("sanity.attribution_maps"), model=(MODEL, shape_cnn()), images=(ARRAY, IMAGES),
                                     classes=(CLASS_INDEX_ARRAY, np.array([0, 1])),
                                     methods=(Kind(("unknown", ["magic"]), ("none", [])), ["saliency"])),
        "sanity.cascading_randomisation": S(m("sanity.cascading_randomisation"), model=(MODEL, shape_cnn()),
                                            seed=(NON_NEGATIVE_INT, 0)),
        "sanity.shuffled_labels": S(m("sanity.shuffled_labels"), labels=(SHAPE_ONLY, LABELS),
                                    seed=(NON_NEGATIVE_INT, 0)),
        "sanity.stage_correlations": S(m("sanity.stage_correlations"),
                                       reference=(Kind(("not a dict", [MAPS])), {"saliency": MAPS}),
                                       stages=(Kind(("not a dict", [MAPS])), {"head": {"saliency": MAPS}})),
        "sanity.joint_zero_part": S(m("sanity.joint_zero_part"), maps_a=(ARRAY, MAPS), maps_b=(ARRAY, MAPS)),
        "sanity.joint_zero_share": S(m("sanity.joint_zero_share"), maps_a=(ARRAY, MAPS), maps_b=(ARRAY, MAPS)),
        "sanity.correlation_where_nonzero": S(m("sanity.correlation_where_nonzero"), maps_a=(ARRAY, MAPS),
                                              maps_b=(ARRAY, MAPS)),
        "sanity.zero_share": S(m("sanity.zero_share"), maps=(ARRAY, MAPS)),
        "shapes.shape_masks": S(m("shapes.shape_masks"), labels=(CLASS_INDEX_ARRAY, np.array([0, 1])),
                                centres=(ARRAY, np.full((2, 2), 16.0)), half_sizes=(ARRAY, np.array([5.0, 6.0])),
                                size=(POSITIVE_INT, 32)),
        "shapes.make_dataset": S(m("shapes.make_dataset"), n=(POSITIVE_INT, 4), seed=(NON_NEGATIVE_INT, 0),
                                 noise=(NON_NEGATIVE_FLOAT, 0.08)),
        "synthesis.radial_frequency": S(m("synthesis.radial_frequency"), size=(POSITIVE_INT, 8)),
        "synthesis.high_frequency_share": S(m("synthesis.high_frequency_share"), images=(ARRAY, IMAGES),
                                            cutoff=(Kind(("negative", -0.1), ("above Nyquist", 0.9)), 0.25)),
        "synthesis.total_variation": S(m("synthesis.total_variation"), x=(ARRAY, IMAGES)),
        "synthesis.gaussian_blur": S(m("synthesis.gaussian_blur"), x=(ARRAY, IMAGES),
                                     sigma=(Kind(("negative", -1.0), ("NaN", float("nan"))), 0.5)),
        "synthesis.Regularisers": S(m("synthesis.Regularisers"), decay=(NON_NEGATIVE_FLOAT, 0.01),
                                    blur_sigma=(NON_NEGATIVE_FLOAT, 0.5), blur_every=(POSITIVE_INT, 4),
                                    norm_percentile=(Kind(("above 100", 150.0), ("negative", -1.0)), 20.0),
                                    jitter=(NON_NEGATIVE_INT, 1)),
        "synthesis.maximise": S(m("synthesis.maximise"), model=(MODEL, shape_cnn()),
                                targets=(CLASS_INDEX_ARRAY, np.array([0, 1])), layer=(OPTION, "logits"),
                                steps=(POSITIVE_INT, 2), step_size=(NON_NEGATIVE_FLOAT, 0.02),
                                seed=(NON_NEGATIVE_INT, 0)),
        "synthesis.invert": S(m("synthesis.invert"), model=(MODEL, shape_cnn()), images=(ARRAY, IMAGES),
                              layer=(OPTION, "act1"), tv_weight=(NON_NEGATIVE_FLOAT, 0.0), steps=(POSITIVE_INT, 2),
                              learning_rate=(NON_NEGATIVE_FLOAT, 0.02)),
        "synthesis.relative_error": S(m("synthesis.relative_error"), reconstructions=(ARRAY, IMAGES),
                                      originals=(ARRAY, IMAGES)),
        "synthesis_lesson.explorer_target": S(m("synthesis_lesson.explorer_target"), target=(OPTION, "class: disc")),
        "synthesis_lesson.synthesis_scene": S(m("synthesis_lesson.synthesis_scene"), model=(MODEL, shape_cnn()),
                                              judge=(MODEL, shape_cnn())),
        "synthesis_lesson.synthesis_explorer": S(m("synthesis_lesson.synthesis_explorer"), model=(MODEL, shape_cnn()),
                                                 judge=(MODEL, shape_cnn()), decay=(SLIDER, 0.01),
                                                 target=(Kind(("unknown", "class: cloud")), "class: disc")),
        "textures.random_filters": S(m("textures.random_filters"), sizes=(INT_SEQUENCE, (3, 5)),
                                     channels=(POSITIVE_INT, 2), seed=(NON_NEGATIVE_INT, 0)),
        "textures.filter_spectra": S(m("textures.filter_spectra"), filters=(BANKS, TEX_FILTERS), size=(POSITIVE_INT, 8)),
        "textures.fft_features": S(m("textures.fft_features"), fixed={"spectra": textures.filter_spectra(TEX_FILTERS, 8)},
                                   image=(Kind(("an extra axis", np.zeros((1, 8, 8, 3)))), RGB[:8, :8])),
        "textures.direct_features": S(m("textures.direct_features"), image=(ARRAY, RGB[:8, :8]),
                                      filters=(BANKS, TEX_FILTERS)),
        "textures.gram": S(m("textures.gram"), features=(ARRAY, np.ones((4, 4, 2)))),
        "textures.texture_statistics": S(m("textures.texture_statistics"), image=(ARRAY, RGB),
                                         filters=(BANKS, TEX_FILTERS), mean_colour=(ARRAY, np.full(3, 0.5))),
        "textures.style_loss": S(m("textures.style_loss"), grams=(Kind(("one short", [np.eye(2)])), [np.eye(2)] * 2),
                                 target_grams=(Kind(("a number", 3)), [np.eye(2)] * 2)),
        "textures.content_loss": S(m("textures.content_loss"),
                                   features=(Kind(("one short", [np.ones((2, 2, 2))])), [np.ones((2, 2, 2))] * 2),
                                   target_features=(Kind(("a number", 3)), [np.ones((2, 2, 2))] * 2)),
        "textures.start_images": S(m("textures.start_images"), targets=(ARRAY, RGB[None]), n=(POSITIVE_INT, 2),
                                   seed=(NON_NEGATIVE_INT, 0), size=(POSITIVE_INT, 8)),
        "textures.synthesise": S(m("textures.synthesise"), targets=(ARRAY, RGB[None]), filters=(BANKS, TEX_FILTERS),
                                 steps=(POSITIVE_INT, 2), learning_rate=(POSITIVE_NUMBER, 0.03),
                                 seed=(NON_NEGATIVE_INT, 0), size=(POSITIVE_INT, 8)),
        "textures.transfer": S(m("textures.transfer"), content=(ARRAY, RGB[:8, :8]), style=(ARRAY, RGB),
                               filters=(BANKS, TEX_FILTERS), style_weights=(Kind(("negative", [-1.0]), ("text", "a")),
                                                                            [1.0]),
                               steps=(POSITIVE_INT, 2), learning_rate=(POSITIVE_NUMBER, 0.03)),
        "textures.crop": S(m("textures.crop"), image=(Kind(("grey", np.zeros((64, 64))), ("text", "abc")),
                                                       np.zeros((64, 64, 3), np.uint8)),
                           top=(NON_NEGATIVE_INT, 0), left=(NON_NEGATIVE_INT, 0), size=(POSITIVE_INT, 32),
                           shrink=(POSITIVE_INT, 2)),
        "textures.matched_noise": S(m("textures.matched_noise"), image=(ARRAY, RGB), seed=(NON_NEGATIVE_INT, 0)),
        "textures.phase_randomised": S(m("textures.phase_randomised"), image=(ARRAY, RGB), seed=(NON_NEGATIVE_INT, 0)),
        "textures.radial_spectrum": S(m("textures.radial_spectrum"), image=(ARRAY, RGB)),
        "textures.spectrum_distance": S(m("textures.spectrum_distance"), fixed={"b": RGB},
                                        a=(Kind(("NaN", _nan_like(RGB)), ("text", "abc")), RGB)),
        "textures.colour_distance": S(m("textures.colour_distance"), a=(ARRAY, RGB), b=(ARRAY, RGB),
                                      bins=(POSITIVE_INT, 4)),
        "textures.edge_strength_distance": S(m("textures.edge_strength_distance"), fixed={"b": RGB},
                                             a=(Kind(("NaN", _nan_like(RGB)), ("text", "abc")), RGB),
                                             bins=(POSITIVE_INT, 4)),
        "textures.edge_correlation": S(m("textures.edge_correlation"), fixed={"b": RGB},
                                       a=(Kind(("NaN", _nan_like(RGB)), ("smaller", RGB[:8])), RGB)),
        "textures.ssim": S(m("textures.ssim"), fixed={"b": RGB}, a=(Kind(("NaN", _nan_like(RGB)), ("text", "abc")), RGB),
                           window=(POSITIVE_INT, 3)),
        "textures_lesson.image_row": S(m("textures_lesson.image_row"),
                                       images=(Kind(("not a dict", [RGB]), ("none", {}), ("NaN", {"a": _nan_like(RGB)})),
                                               {"a": RGB})),
        "textures_lesson.measures_table": S(m("textures_lesson.measures_table"),
                                            targets=(Kind(("not a dict", [RGB]), ("none", {})), {"a": RGB}),
                                            candidates=(Kind(("not a dict", [RGB])), {"a": {"b": RGB}})),
        "textures_lesson.format_measures": S(m("textures_lesson.format_measures"),
                                             table=(Kind(("not a dict", [1]), ("none", {})), {})),
        "textures_lesson.style_explorer_figure": S(m("textures_lesson.style_explorer_figure"), content=(ARRAY, RGB),
                                                   style=(ARRAY, RGB)),
        "textures_lesson.nearest_weight": S(m("textures_lesson.nearest_weight"), weights=(ARRAY, [0.0, 1.0]),
                                            log10_weight=(Kind(("NaN", float("nan")), ("text", "1")), 0.0)),
        "textures_lesson.style_explorer": S(m("textures_lesson.style_explorer"), content=(ARRAY, RGB),
                                            style=(ARRAY, RGB), weights=(ARRAY, [0.0, 1.0]),
                                            results=(Kind(("one short", RGB[None]), ("text", "abc")), np.stack([RGB] * 2)),
                                            log10_weight=(SLIDER, 0.0)),
        "upsampling.depth_to_space": S(m("upsampling.depth_to_space"), x=(FLEX, np.zeros((1, 2, 2, 4))),
                                       block=(POSITIVE_INT, 2)),
        "upsampling.icnr": S(m("upsampling.icnr"), kernel=(ARRAY, np.zeros((3, 3, 2, 4))), block=(POSITIVE_INT, 2)),
        "upsampling.Upsample2x": S(m("upsampling.Upsample2x"), kind=(OPTION, "transposed k3 s2"),
                                   in_features=(POSITIVE_INT, 2), out_features=(POSITIVE_INT, 1),
                                   rngs=(RNGS, nnx.Rngs(0))),
        "upsampling.UpsamplerStack": S(m("upsampling.UpsamplerStack"), kind=(OPTION, "transposed k3 s2"),
                                       rngs=(RNGS, nnx.Rngs(0)),
                                       channels=(Kind(("too few", (4,)), ("zero", (4, 0, 1))), (4, 2, 2, 1))),
        "upsampling.sample_codes": S(m("upsampling.sample_codes"), n=(POSITIVE_INT, 2), seed=(NON_NEGATIVE_INT, 0)),
        "upsampling.generator_images": S(m("upsampling.generator_images"), kind=(OPTION, "resize-conv"),
                                         codes=(ARRAY, np.zeros((2, 4, 4, 32))), seed=(NON_NEGATIVE_INT, 0)),
        "upsampling.generator_stage_outputs": S(m("upsampling.generator_stage_outputs"), kind=(OPTION, "resize-conv"),
                                                codes=(ARRAY, np.zeros((2, 4, 4, 32))), seed=(NON_NEGATIVE_INT, 0)),
        "vae.CurveVAE": S(m("vae.CurveVAE"), rngs=(RNGS, nnx.Rngs(0)), latents=(POSITIVE_INT, 2)),
        "vae.PatchVAE": S(m("vae.PatchVAE"), rngs=(RNGS, nnx.Rngs(0)), latents=(POSITIVE_INT, 2)),
        "vae.gaussian_kl": S(m("vae.gaussian_kl"), mean=(ARRAY, np.zeros(3)), log_var=(ARRAY, np.zeros(3))),
        "vae.kl_monte_carlo": S(m("vae.kl_monte_carlo"), mean=(Kind(("NaN", float("nan")), ("text", "0")), 0.5),
                                std=(Kind(("zero", 0.0), ("negative", -0.2)), 0.2), n=(POSITIVE_INT, 100),
                                seed=(NON_NEGATIVE_INT, 0)),
        "vae.vae_loss": S(m("vae.vae_loss"), beta=(NON_NEGATIVE_FLOAT, 1.0), sigma=(Kind(("zero", 0.0),
                                                                                         ("negative", -0.1)), 0.02)),
        "vae.regularised_loss": S(m("vae.regularised_loss"), weight_decay=(NON_NEGATIVE_FLOAT, 0.0),
                                  code_l1=(NON_NEGATIVE_FLOAT, 0.0), input_noise=(NON_NEGATIVE_FLOAT, 0.0)),
        "vae.posterior": S(m("vae.posterior"), model=(MODEL, curve_vae()), x=(ARRAY, CURVES)),
        "vae.kl_per_latent": S(m("vae.kl_per_latent"), mean=(ARRAY, np.zeros((4, 3))), std=(ARRAY, np.ones((4, 3)))),
        "vae.activity": S(m("vae.activity"), mean=(ARRAY, np.zeros((4, 3)))),
        "vae.active_units": S(m("vae.active_units"), mean=(ARRAY, np.zeros((4, 3))),
                              threshold=(NON_NEGATIVE_FLOAT, 0.01)),
        "vae.principal_variances": S(m("vae.principal_variances"), x=(ARRAY, CURVES)),
        "vae.linear_vae_prediction": S(m("vae.linear_vae_prediction"), x=(ARRAY, CURVES),
                                       beta=(NON_NEGATIVE_FLOAT, 1.0), sigma=(Kind(("zero", 0.0)), 0.02),
                                       latents=(POSITIVE_INT, 6)),
        "vae.r_squared": S(m("vae.r_squared"), features=(ARRAY, np.ones((8, 2))), targets=(ARRAY, np.ones((8, 2)))),
        "vae.prior_samples": S(m("vae.prior_samples"), model=(MODEL, curve_vae()), n=(POSITIVE_INT, 2),
                               seed=(NON_NEGATIVE_INT, 0)),
        "vae.weight_decay_prediction": S(m("vae.weight_decay_prediction"), x=(ARRAY, PATCHES),
                                         weight_decay=(NON_NEGATIVE_FLOAT, 0.01), components=(POSITIVE_INT, 3)),
        "vae.gains_along": S(m("vae.gains_along"), model=(MODEL, patch_model()), directions=(ARRAY, np.eye(7, 2))),
        "vae.components_in_use": S(m("vae.components_in_use"), model=(MODEL, patch_model()), x=(ARRAY, PATCHES)),
        "vae_lesson.read_latents": S(m("vae_lesson.read_latents"), fixed={"x": CURVES},
                                     result=(Kind(("not a result", 3)), None)),
        "vae_lesson.family_check": S(m("vae_lesson.family_check"), samples=(ARRAY, CURVES)),
        "vae_lesson.prior_samples_figure": S(m("vae_lesson.prior_samples_figure"), samples=(ARRAY, CURVES),
                                             n=(POSITIVE_INT, 4)),
        "vae_lesson.beta_sweep": S(m("vae_lesson.beta_sweep"), train_x=(ARRAY, PATCHES), test_x=(ARRAY, PATCHES),
                                   betas=(Kind(("one number", 1.0), ("negative", [-1.0])), [1.0]),
                                   sigma=(Kind(("zero", 0.0)), 0.02), steps=(POSITIVE_INT, 2),
                                   seeds=(INT_SEQUENCE, [0])),
        "vae_lesson.train_autoencoders": S(m("vae_lesson.train_autoencoders"), x=(ARRAY, PATCHES),
                                           variants=(Kind(("not a dict", [1]), ("none", {})),
                                                     {"plain": ("untied", vae.regularised_loss())}),
                                           steps=(POSITIVE_INT, 2), seeds=(INT_SEQUENCE, [0])),
        "vae_lesson.basis_report": S(m("vae_lesson.basis_report"), fixed={"directions": np.eye(7, 2)},
                                     result=(Kind(("not a result", 3)), None)),
        "vae_lesson.latent_curve_figure": S(m("vae_lesson.latent_curve_figure"), model=(MODEL, curve_vae()),
                                            latents=(Kind(("one", (0,)), ("out of range", (0, 9))), (0, 1))),
        "vae_lesson.latent_curve_explorer": S(m("vae_lesson.latent_curve_explorer"), model=(MODEL, curve_vae()),
                                              latents=(Kind(("out of range", (0, 9))), (0, 1)), z1=(SLIDER, 0.5)),
    }


BANKS = Kind(("one array", np.ones((3, 3, 3, 2))), ("none", ()), ("grey filters", (np.ones((3, 3, 1, 2)),)))
POSITIVE_NUMBER = Kind(("zero", 0.0), ("negative", -1.0), ("NaN", float("nan")), ("text", "1"))
SLIDER = Kind(("out of range", 1e6), ("text", "x"))
AXES = Kind(("not axes", "ax"), ("a number", 3))
CLASS_INDEX_ARRAY = Kind(("out of range", np.array([0, 99])), ("negative", np.array([0, -1])),
                         ("floats", np.array([0.0, 1.7])))


# Public names that take no argument a caller could get wrong, or whose arguments come
# only from the library itself; each with the reason it is not swept.
EXEMPT = {
    "loops.SeedLayout": "inside the engine: training.train builds it from checked seeds and devices",
    "loops.padded_rows": "inside the engine: training.train pads data it has checked",
    **{f"checks.{n}": "the checks themselves: their job is to raise these errors (tests/test_checks.py)"
       for n in ("positive_int", "non_negative_int", "int_sequence", "non_negative_float", "array", "indices",
                 "model_with", "rngs", "one_of", "number", "positive_float", "axes", "mapping")},
    "exercise.solves": "a decorator applied to the library's own worked solutions",
    "exercise.verdict_on_function": "an exercise check: a wrong answer gets a verdict (False and a sentence), "
                                    "not an error (tests/test_textures.py, tests/test_upsampling.py)",
    **{f"loops.{n}": "inside the engine: training.train checks the arguments it passes on"
       for n in ("Step", "chunk_draws", "ScanRunner", "StepRunner")},
    "training.TrainResult": "a record that training.train builds; its methods check their own arguments",
    "explorer.Explorer": "a record each notebook module defines once; tests/test_registry.py and "
                         "tests/test_widgets_and_exercises.py check every entry",
    "losses.ReconstructionLoss": "a record built by losses.reconstruction_loss, which checks its numbers",
    "vae.VAELoss": "a record built by vae.vae_loss, which checks its numbers",
    "vae.RegularisedLoss": "a record built by vae.regularised_loss, which checks its numbers",
    "gan.Coverage": "a record built by gan.class_coverage",
    "cnn.TopPatches": "a record built by cnn.top_patches",
    "devices.spread": "inside the optimisations: synthesis passes it batches it has checked",
    "static_explorer.precompute_frames": "runs only inside make html's kernels on the explorers a notebook built "
                                         "(tools/build_html.py); tests/test_static_html.py checks it",
}
# Arguments that come from the library's own figures: an update_* function takes the
# artists its *_figure made and slider values inside the controls' ranges; a draw_*
# function takes the frames its animation computes. The explorer functions that
# students call are swept above (their slider values are checked by the controls).
LIBRARY_FED = ("update_", "draw_", "set_scaled_filters", "latent_counts", "kl_figure", "beta_sweep_figure",
               "singular_vectors_figure", "loss_figure", "class_share_figure", "plot_subkernels", "plot_gradients")


def public_names() -> list[str]:
    names = []
    for package in (core, display, part1, part2):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            for name, obj in vars(module).items():
                if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                    continue
                if inspect.isfunction(obj) or inspect.isclass(obj):
                    names.append(f"{info.name}.{name}")
    return names


def takes_arguments(path: str) -> bool:
    obj = m(path)
    target = obj.__init__ if inspect.isclass(obj) else obj
    try:
        parameters = [p for p in inspect.signature(target).parameters if p != "self"]
    except (TypeError, ValueError):
        return True
    return bool(parameters)


def needs_sweep(path: str) -> bool:
    name = path.split(".")[1]
    return (takes_arguments(path) and path not in EXEMPT and not name.startswith(("check_", "solve_"))
            and not name.startswith(LIBRARY_FED) and name not in LIBRARY_FED)


def test_every_public_function_is_swept():
    swept = set(specs())
    missing = [p for p in public_names() if needs_sweep(p) and p not in swept]
    assert not missing, ("public functions with no bad-input spec in tests/test_bad_inputs.py (add one, or an "
                         f"EXEMPT entry with the reason): {missing}")
    unknown = sorted(swept - set(public_names()))
    assert not unknown, f"specs for names that are not public functions: {unknown}"


CASES = [(path, arg, label) for path, spec in specs().items() for arg, label, _ in spec.calls()]


@pytest.mark.parametrize("path, arg, label", CASES, ids=[f"{p}:{a}={b}" for p, a, b in CASES])
def test_a_bad_argument_gets_a_clear_error_that_names_it(path, arg, label):
    spec = specs()[path]
    kwargs = next(k for a, b, k in spec.calls() if (a, b) == (arg, label))
    try:
        spec.function(**kwargs)
    except ERRORS as err:
        message = str(err)
        assert arg in message or arg.replace("_", " ") in message, (
            f"{path}({arg}={label}) raised {type(err).__name__} without naming {arg!r}: {message}")
        return
    finally:
        plt.close("all")
    pytest.fail(f"{path}({arg}=<{label}>) returned instead of raising a clear error")


@settings(max_examples=30, deadline=None)
@given(st.one_of(st.integers(-3, 0), st.floats(allow_nan=True), st.text(max_size=3), st.none(),
                 st.lists(st.integers(), min_size=3, max_size=4)))
def test_random_junk_for_a_size_is_refused_by_name(junk):
    """Anything but an integer >= 1 (or a pair of them) as a kernel size is refused, naming the kernel."""
    from course_utils.core import deconv

    with pytest.raises(ERRORS, match="kernel"):
        deconv.overlap_counts(3, junk, 2)


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=0, max_size=4), poison=st.sampled_from([np.nan, np.inf, -np.inf]))
def test_random_shapes_and_poisoned_values_are_refused_for_numpy_and_jax_alike(shape, poison):
    import jax.numpy as jnp

    from course_utils.core import deconv

    x = np.ones(shape, np.float32)
    if len(shape) == 2:
        x.flat[0] = poison
    for candidate in (x, jnp.asarray(x)):
        with pytest.raises(ERRORS, match="x "):
            deconv.conv_transpose_1d(candidate, W1[:, :shape[-1]] if len(shape) == 2 and shape[-1] <= 2 else W1, 2)
