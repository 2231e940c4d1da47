"""Figures from run folders, laid out like the seed's Figures 2-6.

Everything is drawn from what a run folder holds (metrics.csv, densities.npz, config.toml), never
from live objects, so old runs can be re-plotted. Figures are built on ``matplotlib.figure.Figure``
directly (no pyplot, no global backend state, never a display) and written atomically as PNG (for
README and report) and SVG (heat maps rasterised inside it, so it stays small).
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure

from infoflow.files import write_atomically
from infoflow.runs.format import FIGURE_EXTENSIONS, FIGURE_INDEX
from infoflow.runs.reader import RunRecord, read_run

PNG_DPI = 130
# Panels per layer in density_layer{l}.png for layers wider than one unit.
MAX_UNITS_SHOWN = 4
# The density colour scale is a power law (colour ~ density^gamma): a cluster 100 times lower than
# the tallest (a few % of the mass, or a diffuse one) still shows at 16 % brightness, while the
# Gaussian tails of tight clusters stay dark (a log scale paints them as wide bands).
DENSITY_GAMMA = 0.4
DENSITY_COLOURMAP = "magma"
EPOCH_COLOURMAP = "viridis"
LAYER_MARKERS = ("o", "s", "^", "D", "v", "P")
ESTIMATOR_LINESTYLES = (":", "-.", (0, (1, 1)), (0, (3, 1, 1, 1)))


def _layer_colour(layer: int) -> str:
    return f"C{(layer - 1) % 10}"


def _render(figure: Figure, extension: str) -> bytes:
    """Return the figure encoded as ``extension`` ("png" or "svg")."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format=extension, dpi=PNG_DPI)
    return buffer.getvalue()


def save_figure(figure: Figure, stem: Path) -> list[Path]:
    """Write ``stem.png`` and ``stem.svg`` atomically and list the stem in the folder's figure index.

    The index (``runs.folder.FIGURE_INDEX``) tells ``--force`` which files in figures/ infoflow drew,
    whichever module drew them. Returns the figure paths.
    """
    written = []
    for extension in FIGURE_EXTENSIONS:
        path = stem.parent / f"{stem.name}.{extension}"
        write_atomically(path, _render(figure, extension))
        written.append(path)
    index = stem.parent / FIGURE_INDEX
    stems = set(index.read_text(encoding="utf-8").split()) if index.is_file() else set()
    if stem.name not in stems:
        write_atomically(index, "".join(f"{name}\n" for name in sorted(stems | {stem.name})).encode("utf-8"))
    return written


def _across_seeds(values: np.ndarray, epochs: np.ndarray) -> tuple[np.ndarray, ...]:
    """Return (epochs, mean, min, max) over seeds at the epochs where any seed has a value.

    Parameters
    ----------
    values : ndarray of shape (K, E), NaN where not measured
    epochs : ndarray of shape (E,)
    """
    measured = np.isfinite(values).any(axis=0)
    kept = values[:, measured]
    return epochs[measured], np.nanmean(kept, axis=0), np.nanmin(kept, axis=0), np.nanmax(kept, axis=0)


def bound_envelope(run: RunRecord, layer: int, prefix: str = "mi") -> tuple[np.ndarray, ...] | None:
    """Return (epochs, lower, upper, unresolved) of one layer's bounds over seeds, or None without bounds.

    ``prefix`` "mi" is I(X;T_l), "mi_label" I(T_l;Y). The band is the envelope over seeds (the
    least lower and the largest upper bound); an epoch is unresolved when any seed's estimate was.
    Shapes (E',) over the epochs where any seed has both bounds; ``unresolved`` is bool.
    """
    flag = "resolved" if prefix == "mi" else "label_resolved"
    lower, upper = run.bounds.get(f"{prefix}_lower_nats"), run.bounds.get(f"{prefix}_upper_nats")
    if lower is None or upper is None:
        return None
    lower, upper = lower[:, :, layer - 1], upper[:, :, layer - 1]
    measured = (np.isfinite(lower) & np.isfinite(upper)).any(axis=0)
    if not measured.any():
        return None
    resolved = run.bounds.get(flag)
    unresolved = np.zeros(measured.sum(), dtype=bool)
    if resolved is not None:
        unresolved = (resolved[:, measured, layer - 1] == 0).any(axis=0)
    return (
        run.epochs[measured],
        np.nanmin(lower[:, measured], axis=0),
        np.nanmax(upper[:, measured], axis=0),
        unresolved,
    )


def _draw_bounds(axes: Axes, run: RunRecord, layer: int, values: np.ndarray, colour: str, first: bool) -> bool:
    """Shade I(X;T_layer)'s bounds and mark unresolved epochs (hollow markers) on the curve ``values``.

    ``values`` is the seed mean, shape (E,) over ``run.epochs``; ``first`` labels the legend
    entries. Returns whether anything was drawn.
    """
    envelope = bound_envelope(run, layer)
    if envelope is None:
        return False
    epochs, lower, upper, unresolved = envelope
    axes.fill_between(
        epochs,
        lower,
        upper,
        facecolor=colour,
        alpha=0.1,
        edgecolor=colour,
        linewidth=0.5,
        linestyle="--",
        label="95 % bounds (band)" if first else None,
    )
    if unresolved.any():
        at = np.searchsorted(run.epochs, epochs[unresolved])
        draw_unresolved(axes, epochs[unresolved], values[at], colour, first)
    return True


def draw_unresolved(axes: Axes, x: np.ndarray, y: np.ndarray, colour: str, first: bool) -> None:
    """Draw unresolved estimates (x, y of shape (k,)) as hollow markers; ``first`` labels them in the legend."""
    axes.scatter(
        x, y, s=22, facecolors="white", edgecolors=colour, linewidths=1.0, zorder=4,
        label="unresolved (hollow)" if first else None,
    )


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges around sorted centres, shape (n + 1,): midpoints, half a step beyond each end."""
    centres = np.asarray(centres, dtype=np.float64)
    if centres.size == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5])
    middles = 0.5 * (centres[1:] + centres[:-1])
    return np.concatenate([[2 * centres[0] - middles[0]], middles, [2 * centres[-1] - middles[-1]]])


def _grid_ranges(grids: np.ndarray) -> list[tuple[int, int, np.ndarray]]:
    """Split a seed's grids (E_d, G) into runs of epochs on one grid: (first, last + 1, grid).

    Epochs without a grid (NaN: not recorded by this seed) are left out.
    """
    ranges: list[tuple[int, int, np.ndarray]] = []
    for index, grid in enumerate(grids):
        if not np.isfinite(grid).all():
            continue
        if ranges and ranges[-1][1] == index and np.array_equal(ranges[-1][2], grid):
            ranges[-1] = (ranges[-1][0], index + 1, ranges[-1][2])
        else:
            ranges.append((index, index + 1, grid))
    return ranges


def _uses_log_epochs(run: RunRecord) -> bool:
    return run.config.get("estimation", {}).get("schedule") == "log"


def _style_epoch_axis(axes: Axes, run: RunRecord) -> None:
    axes.set_xlabel("epoch")
    if _uses_log_epochs(run):
        # Log-spaced measurements: a log axis that still shows epoch 0 (linear below 1).
        axes.set_xscale("symlog", linthresh=1.0, linscale=0.5)
        axes.set_xlim(left=float(run.epochs.min()), right=float(run.epochs.max()))


def _draw_mi(axes: Axes, run: RunRecord) -> None:
    """I(X;T_l) against epoch for every layer: seed mean, min-max band over seeds, the bounds'
    band (lighter, dashed edges), unresolved epochs as hollow markers, exact and other estimators."""
    n_seeds = run.seeds.size
    unlabelled = True
    for layer in range(1, run.n_layers + 1):
        colour = _layer_colour(layer)
        epochs, mean, low, high = _across_seeds(run.mi[:, :, layer - 1], run.epochs)
        label = f"I(X;T_{layer})" + (f", mean of {n_seeds} seeds" if n_seeds > 1 else "")
        axes.plot(epochs, mean, color=colour, linewidth=1.6, label=label)
        if n_seeds > 1:
            axes.fill_between(epochs, low, high, color=colour, alpha=0.25, linewidth=0)
        seed_mean = np.full(run.epochs.shape, np.nan)
        seed_mean[np.isin(run.epochs, epochs)] = mean
        if _draw_bounds(axes, run, layer, seed_mean, colour, first=unlabelled):
            unlabelled = False
        if run.true_mi is not None and np.isfinite(run.true_mi[:, :, layer - 1]).any():
            true_epochs, true_mean, _, _ = _across_seeds(run.true_mi[:, :, layer - 1], run.epochs)
            # Black on top of the estimate: where they agree the estimate must still show.
            axes.plot(
                true_epochs,
                true_mean,
                color="black",
                linestyle=(0, (3, 3)),
                linewidth=0.9,
                zorder=3,
                label=f"exact I(X;T_{layer})",
            )
        for index, (name, values) in enumerate(sorted(run.estimator_mi.items())):
            if not np.isfinite(values[:, :, layer - 1]).any():
                continue
            other_epochs, other_mean, _, _ = _across_seeds(values[:, :, layer - 1], run.epochs)
            axes.plot(
                other_epochs,
                other_mean,
                color=colour,
                linestyle=ESTIMATOR_LINESTYLES[index % len(ESTIMATOR_LINESTYLES)],
                linewidth=0.8,
                alpha=0.8,
                label=f"{name} T_{layer}",
            )
    inputs = run.config.get("inputs", {})
    if inputs.get("kind") == "discrete_uniform" and inputs.get("values"):
        # The ceiling for any layer: H(X) of a uniform input on its support.
        ceiling = float(np.log(len(inputs["values"])))
        axes.axhline(ceiling, color="0.5", linestyle=":", linewidth=0.9, label=f"H(X) = log {len(inputs['values'])}")
    _style_epoch_axis(axes, run)
    axes.set_ylabel("I(X;T) (nats)")
    axes.set_ylim(bottom=0.0)
    axes.legend(fontsize="small", frameon=False)


def _draw_density(axes: Axes, figure: Figure, run: RunRecord, layer: int, unit: int, seed_index: int = 0) -> None:
    """Heat map of the density of one unit of T_layer: epoch on x, value on y, power-law colour.

    A grid that followed its layer is drawn epoch range by epoch range, each on its own grid;
    outside a range's grid the density counts as 0 (less than 1e-3 of the mass lay there).
    """
    seed = int(run.density_seeds[seed_index])
    density = np.asarray(run.densities[layer - 1][seed_index, :, unit, :], dtype=np.float64).T  # (G, E_d)
    density = np.clip(np.where(np.isfinite(density), density, 0.0), 0.0, None)
    peak = float(density.max())
    norm = PowerNorm(gamma=DENSITY_GAMMA, vmin=0.0, vmax=peak if peak > 0 else 1.0)
    epoch_edges = _edges(run.density_epochs)
    mesh = None
    for first, last, grid in _grid_ranges(run.layer_grids(seed, layer)):
        mesh = axes.pcolormesh(
            epoch_edges[first : last + 1],
            _edges(grid),
            density[:, first:last],
            norm=norm,
            cmap=DENSITY_COLOURMAP,
            shading="flat",
            rasterized=True,
        )
    axes.set_facecolor(colormaps[DENSITY_COLOURMAP](0.0))
    if mesh is not None:
        figure.colorbar(mesh, ax=axes, label="density", pad=0.02)
    _style_epoch_axis(axes, run)
    axes.set_ylabel(f"T_{layer}" if run.densities[layer - 1].shape[2] == 1 else f"T_{layer}[{unit + 1}]")
    axes.set_title(
        f"PDF of T_{layer}"
        + (f" unit {unit + 1}" if run.densities[layer - 1].shape[2] > 1 else "")
        + f" (seed {seed})",
        fontsize="medium",
    )


def _draw_information_plane(axes: Axes, figure: Figure, run: RunRecord) -> None:
    """I(T_l;Y) against I(X;T_l), coloured by epoch, one marker per layer (seed means)."""
    assert run.mi_label is not None
    scatter = None
    ringed = False
    epoch_range = (float(run.epochs.min()), float(max(run.epochs.max(), run.epochs.min() + 1)))
    for layer in range(1, run.n_layers + 1):
        both = np.isfinite(run.mi[:, :, layer - 1]) & np.isfinite(run.mi_label[:, :, layer - 1])
        measured = both.any(axis=0)
        if not measured.any():
            continue
        input_mi = np.where(both, run.mi[:, :, layer - 1], np.nan)[:, measured]
        label_mi = np.where(both, run.mi_label[:, :, layer - 1], np.nan)[:, measured]
        x, y = np.nanmean(input_mi, axis=0), np.nanmean(label_mi, axis=0)
        axes.plot(x, y, color="0.75", linewidth=0.7, zorder=1)
        scatter = axes.scatter(
            x,
            y,
            c=run.epochs[measured],
            cmap=EPOCH_COLOURMAP,
            vmin=epoch_range[0],
            vmax=epoch_range[1],
            marker=LAYER_MARKERS[(layer - 1) % len(LAYER_MARKERS)],
            s=18,
            edgecolors="none",
            label=f"T_{layer}",
            zorder=2,
        )
        unresolved = _unresolved(run, layer, both)[measured]
        if unresolved.any():
            axes.scatter(
                x[unresolved],
                y[unresolved],
                s=60,
                facecolors="none",
                edgecolors="black",
                linewidths=0.7,
                zorder=3,
                label=None if ringed else "unresolved (ringed)",
            )
            ringed = True
    if scatter is not None:
        figure.colorbar(scatter, ax=axes, label="epoch")
        axes.legend(fontsize="small", frameon=False)
    axes.set_xlabel("I(X;T) (nats)")
    axes.set_ylabel("I(T;Y) (nats)")


def _unresolved(run: RunRecord, layer: int, both: np.ndarray) -> np.ndarray:
    """Return, per epoch (E,), whether any seed's I(X;T_layer) or I(T_layer;Y) was unresolved where ``both`` (K, E)."""
    layer_flags = [run.bounds.get(name) for name in ("resolved", "label_resolved")]
    unresolved = np.zeros(both.shape[1], dtype=bool)
    for flags in layer_flags:
        if flags is not None:
            unresolved |= (both & (flags[:, :, layer - 1] == 0)).any(axis=0)
    return unresolved


def _title(run: RunRecord, width: int = 200) -> str:
    """The run's name and description, wrapped to lines of at most ``width`` characters."""
    description = run.config.get("description")
    return textwrap.fill(f"{run.name}: {description}" if description else run.name, width)


def _has_labels(run: RunRecord) -> bool:
    return run.mi_label is not None and bool((np.isfinite(run.mi_label) & np.isfinite(run.mi)).any())


def plot_run(run_dir: str | Path) -> list[Path]:
    """Write a run's figures into RUN/figures/ and return their paths (PNG and SVG of each).

    Figures: ``mi`` (I(X;T_l) against epoch, every layer), ``density_layer{l}`` (the PDF of T_l
    over epochs, one panel per unit up to MAX_UNITS_SHOWN), ``information_plane`` (when
    I(T_l;Y) was recorded) and ``overview`` (MI plus one density heat map per layer, like the
    seed's figures). Only measured epochs are drawn; densities are of the first seed.

    Raises
    ------
    ValueError
        When the run folder is missing or malformed.
    """
    run = read_run(run_dir)
    figures_dir = Path(run_dir) / "figures"
    figures_dir.mkdir(exist_ok=True)
    written: list[Path] = []

    figure = Figure(figsize=(6.0, 4.0), layout="constrained")
    axes = figure.add_subplot()
    _draw_mi(axes, run)
    axes.set_title(_title(run, width=70), fontsize="medium")
    written += save_figure(figure, figures_dir / "mi")

    if run.has_densities:
        for layer in range(1, run.n_layers + 1):
            n_units = min(run.densities[layer - 1].shape[2], MAX_UNITS_SHOWN)
            figure = Figure(figsize=(6.0, 3.6 * n_units), layout="constrained")
            for unit in range(n_units):
                _draw_density(figure.add_subplot(n_units, 1, unit + 1), figure, run, layer, unit)
            written += save_figure(figure, figures_dir / f"density_layer{layer}")

    if _has_labels(run):
        figure = Figure(figsize=(5.6, 4.2), layout="constrained")
        axes = figure.add_subplot()
        _draw_information_plane(axes, figure, run)
        axes.set_title(f"{run.name}: information plane", fontsize="medium")
        written += save_figure(figure, figures_dir / "information_plane")

    n_panels = 1 + (run.n_layers if run.has_densities else 0)
    figure = Figure(figsize=(4.6 * n_panels, 3.8), layout="constrained")
    panels = figure.subplots(1, n_panels, squeeze=False)[0]
    _draw_mi(panels[0], run)
    panels[0].set_title("(a) I(X;T_l) over epochs", fontsize="medium")
    for layer in range(1, n_panels):
        _draw_density(panels[layer], figure, run, layer, unit=0)
        panels[layer].set_title(f"({chr(ord('a') + layer)}) PDF of T_{layer}", fontsize="medium")
    figure.suptitle(_title(run), fontsize="medium")
    written += save_figure(figure, figures_dir / "overview")
    return written


def plot_comparison(run_dirs: Mapping[str, str | Path] | Iterable[str | Path], out_path: str | Path) -> Path:
    """Overlay I(X;T_l) of several runs (seed means, bounds dashed), one panel per layer; return ``out_path``.

    Parameters
    ----------
    run_dirs : mapping of label to run folder, or run folders (labelled by their config name)
    out_path : path ending in .png or .svg
    """
    out_path = Path(out_path)
    extension = out_path.suffix.lstrip(".").lower()
    if extension not in FIGURE_EXTENSIONS:
        raise ValueError(f"out_path must end in .png or .svg, got {out_path.name!r}")
    labelled = run_dirs.items() if isinstance(run_dirs, Mapping) else [(None, path) for path in run_dirs]
    runs = [(label, read_run(path)) for label, path in labelled]
    if not runs:
        raise ValueError("run_dirs is empty")
    n_layers = max(run.n_layers for _, run in runs)
    figure = Figure(figsize=(4.6 * n_layers, 3.8), layout="constrained")
    panels = figure.subplots(1, n_layers, squeeze=False)[0]
    for index, (label, run) in enumerate(runs):
        for layer in range(1, run.n_layers + 1):
            epochs, mean, low, high = _across_seeds(run.mi[:, :, layer - 1], run.epochs)
            colour = f"C{index % 10}"
            panels[layer - 1].plot(epochs, mean, color=colour, linewidth=1.4, label=label or run.name)
            if run.seeds.size > 1:
                panels[layer - 1].fill_between(epochs, low, high, color=colour, alpha=0.2, linewidth=0)
            envelope = bound_envelope(run, layer)
            if envelope is not None:
                # The bounds: dashed edges, so that several runs' bands stay apart.
                for edge in envelope[1:3]:
                    panels[layer - 1].plot(envelope[0], edge, color=colour, linewidth=0.6, linestyle="--")
    for layer, axes in enumerate(panels, start=1):
        axes.set_title(f"I(X;T_{layer})", fontsize="medium")
        axes.set_xlabel("epoch")
        axes.set_ylabel("nats")
        axes.legend(fontsize="small", frameon=False)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(out_path, _render(figure, extension))
    return out_path
