"""The notebooks' pictures: right content, no clipping warnings."""

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from ffnn_lab import plots  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_to_displayable_undoes_normalisation():
    img = torch.rand(3, 4, 4)
    mean, std = [0.5, 0.4, 0.3], [0.2, 0.3, 0.25]
    normalised = (img - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)
    shown = plots.to_displayable(normalised, mean, std)
    assert shown.shape == (4, 4, 3) and np.allclose(shown, img.permute(1, 2, 0).numpy(), atol=1e-6)
    assert plots.to_displayable(torch.full((3, 2, 2), 5.0)).max() == 1.0  # clamped


def test_show_images_titles_and_no_clipping_warning():
    imgs = [torch.randn(3, 32, 32) for _ in range(5)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plots.show_images(imgs, ["a", "b", "c", "d", "e"], ncols=3, mean=[0.5] * 3, std=[0.25] * 3)
    titled = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titled == ["a", "b", "c", "d", "e"] and len(fig.axes) == 6
    fig = plots.show_images([np.zeros((32, 32, 3), np.uint8)])
    assert len(fig.axes[0].images) == 1


def lines(ax):
    """Each line on ax as (label, x data, y data)."""
    return [(line.get_label(), list(line.get_xdata()), list(line.get_ydata())) for line in ax.lines]


def test_history_plots_loss_and_both_accuracies_per_epoch():
    history = [
        {"epoch": i, "loss": 1 / i, "train_accuracy": 0.5 + i / 10, "val_accuracy": 0.4 + i / 20}
        for i in range(1, 4)
    ]
    loss_ax, acc_ax = plots.plot_history(history, title="t").axes
    assert [(x, y) for _, x, y in lines(loss_ax)] == [([1, 2, 3], [1, 0.5, 1 / 3])]
    assert lines(acc_ax) == [
        ("train", [1, 2, 3], [0.6, 0.7, 0.8]),
        ("validation", [1, 2, 3], [0.45, 0.5, 0.55]),
    ]
    no_val = [{**h, "val_accuracy": None} for h in history]
    assert [label for label, _, _ in lines(plots.plot_history(no_val).axes[1])] == ["train"]


def test_loss_curves_each_named_over_its_own_steps():
    fig = plots.plot_losses({"A": [3, 2], "B": [3, 1, 0.5]})
    assert lines(fig.axes[0]) == [("A", [1, 2], [3, 2]), ("B", [1, 2, 3], [3, 1, 0.5])]


def test_confusion_matrix_counts():
    preds = torch.tensor([0, 1, 1, 0, 1])
    labels = torch.tensor([0, 1, 0, 0, 1])
    m = plots.confusion_matrix(preds, labels, 2)
    assert m.tolist() == [[2, 1], [0, 2]]
    fig = plots.plot_confusion(m, ["airplane", "bird"])
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["0", "1", "2", "2"]


def test_shift_curves_one_line_per_model_and_chance():
    fig = plots.plot_shift_curves({"baseline": [0.8, 0.7, 0.6], "best": [0.9, 0.85, 0.7]}, [0, 1, 2])
    *models, chance = lines(fig.axes[0])
    assert models == [("baseline", [0, 1, 2], [0.8, 0.7, 0.6]), ("best", [0, 1, 2], [0.9, 0.85, 0.7])]
    assert chance[0] == "chance" and set(chance[2]) == {0.5}
