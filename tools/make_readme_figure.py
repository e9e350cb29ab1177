"""Draw the README's picture, docs/decoder_sum.png: the decoder as a sum of scaled filters.

    .venv/bin/python tools/make_readme_figure.py      (JAX_PLATFORMS=cpu; a few seconds)

Trains the course's patch autoencoder (3 seeds, the best one kept, as notebook 03
does with 10), encodes a held-out patch (the one whose smallest code value is largest) and draws, in one row,
``c1 x filter 1 + c2 x filter 2 + c3 x filter 3 + bias = output``, the output
drawn over the input patch. Every number in the picture is computed here, and the
sum is checked against ``model.decode``. The PNG is stored with 64 colours, so it
stays small; the same code and seeds give the same picture.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import course_utils  # noqa: E402
from course_utils.core import deconv, training  # noqa: E402
from course_utils.part1 import data, losses, models, plotting  # noqa: E402

OUT = ROOT / "docs" / "decoder_sum.png"
SEED = 0


def main() -> int:
    course_utils.configure_cpu()
    train_patches = data.patches(data.bezier_curves(16384, seed=SEED))
    test_patches = data.patches(data.bezier_curves(256, seed=SEED + 1000))
    result = training.train(lambda rngs: models.PatchAutoencoder(rngs=rngs), train_patches, seeds=range(3),
                            progress=False)
    model = result.model(int(np.argmin(losses.reconstruction_mse(result, test_patches))))
    filters, bias = np.asarray(model.decoder.filters()), float(model.decoder.bias())  # (7, 3)
    codes = np.asarray(model.encode(test_patches))[:, 0]  # (patches, 3)
    pick = int(np.argmax(np.abs(codes).min(axis=1)))  # every filter visibly at work
    patch, code = np.asarray(test_patches[pick]), codes[pick]  # (7,), (3,)
    parts = np.asarray(deconv.contributions(code[None], filters[:, :, None], stride=data.STRIDE))[0, :, :, 0]
    output = parts.sum(axis=0) + bias
    assert np.allclose(output, np.asarray(model.decode(code.reshape(1, 1, 3)))[0], atol=1e-5), \
        "the scaled filters plus bias must add up to the decoder's output"

    fig, axes = plt.subplots(1, 4, figsize=(10, 2.6), dpi=90, sharey=True)
    fig.subplots_adjust(left=0.06, right=0.87, bottom=0.19, top=0.78, wspace=0.3)  # gaps for the signs
    limit = 1.15 * max(np.abs(parts).max(), np.abs(patch).max(), np.abs(output).max())
    taps = np.arange(data.PATCH)
    for i, (ax, color) in enumerate(zip(axes[:3], plotting.WINDOW_COLORS)):
        ax.plot(taps, parts[i], "o-", color=color, linewidth=2)
        ax.set_title(f"{code[i]:+.2f} × filter {i + 1}", fontsize=12)
    axes[3].plot(taps, patch, "o", color="0.55", markersize=9, label="input patch")
    axes[3].plot(taps, output, "-", color="black", linewidth=2.5, label="output")
    axes[3].set_title("output (the sum + bias)", fontsize=12)
    axes[3].legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0, frameon=False)
    for ax in axes:
        ax.set_ylim(-limit, limit)
        ax.set_xticks(taps)
        ax.axhline(0, color="0.85", linewidth=0.8, zorder=0)
        ax.set_xlabel("tap", fontsize=10)
        ax.tick_params(labelsize=9)
    for left, right, sign in zip(axes[:3], axes[1:], "++="):
        x = (left.get_position().x1 + right.get_position().x0) / 2
        fig.text(x, left.get_position().y0 + left.get_position().height / 2, sign, fontsize=20, ha="center",
                 va="center")
    axes[0].set_ylabel("y", fontsize=10)
    fig.suptitle("A transposed convolution paints its output: each code value scales a filter, "
                 "and the scaled filters add up", fontsize=11)

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(fig)
    OUT.parent.mkdir(exist_ok=True)
    Image.open(buffer).convert("RGB").quantize(colors=64, method=Image.Quantize.FASTOCTREE).save(OUT, optimize=True)
    print(f"code {np.round(code, 3)}, patch MSE {((output - patch) ** 2).mean():.1e}; "
          f"wrote {OUT.relative_to(ROOT)} ({OUT.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
