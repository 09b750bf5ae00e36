# dgc_plot_common: what dgc-plot and dgc-timeline share, so that both scripts check figure sizes,
# report errors, lay out and write their PNGs the same way. It sits next to them (scripts/, and
# build/bin where CMake copies all three); each script puts its own directory first on sys.path.
import io
import os
import re
import tempfile

MIN_SIDE, MAX_SIDE = 200, 8000  # pixels, each side of the figure


class UsageError(Exception):
    """A bad command line: the script prints it with its usage and exits 2."""


class PlotError(Exception):
    """Anything else that stops a figure (inputs, matplotlib, the write): exit 1."""


def parse_side(option, text):
    """A figure side in pixels: a whole number inside MIN_SIDE..MAX_SIDE."""
    if not re.fullmatch(r"-?[0-9]+", text):
        raise UsageError(f"{option} needs a whole number of pixels, got '{text}'")
    value = int(text)
    if not MIN_SIDE <= value <= MAX_SIDE:
        raise UsageError(f"{option} {value} is outside {MIN_SIDE}..{MAX_SIDE}")
    return value


def require_matplotlib():
    """Fails with the package to install, before any figure work, when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as e:
        raise PlotError(f"needs matplotlib (apt-get install python3-matplotlib): {e}") from None


def new_figure(width, height, base_width, base_height):
    """An Agg figure of exactly width x height pixels, and its dpi. Text grows with the canvas
    beyond base_width x base_height pixels (up to 4 times), so that the figure keeps its
    proportions instead of shrinking its text to specks."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    dpi = 100 * min(4.0, max(1.0, min(width / base_width, height / base_height)))
    return Figure(figsize=(width / dpi, height / dpi), dpi=dpi), dpi


def layout_above_legend(fig, legend, height):
    """Fits the axes (and title) between the top of the figure and a legend placed at its lower
    centre, whose height is only known once drawn."""
    fig.canvas.draw()
    legend_top = legend.get_window_extent().height / (height * 1.0) + 0.01
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a tiny canvas cannot fit everything; draw anyway
            fig.tight_layout(rect=(0, min(legend_top, 0.5), 1, 1))
    except ValueError:
        pass


def png_bytes(fig, dpi):
    """The figure as PNG bytes, on white."""
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=dpi, facecolor="white")
    return png.getvalue()


def write_file_atomically(path, data):
    """Writes to a temporary file in the same directory, then renames it over `path`: a reader,
    or any failure, finds `path` either as it was or complete."""
    directory = os.path.dirname(path) or "."
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.tmp-", dir=directory)
    except OSError as e:
        raise PlotError(f"cannot write {path}: cannot create a temporary file in {directory}: "
                        f"{e.strerror}") from None
    try:
        try:
            os.fchmod(fd, 0o644)  # mkstemp creates 0600; a figure is an ordinary result
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.rename(temp, path)
        except OSError as e:
            raise PlotError(f"cannot write {path}: cannot rename {temp} to it: {e.strerror}") \
                from None
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
