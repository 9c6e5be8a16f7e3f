"""``RunReporter``: what a kind puts on a run's page (``ModelKind.reporter`` returns
one). The base draws the training curves and the held-out numbers of metrics.json;
kinds subclass it to add their pictures (``reports.segmentation``,
``reports.generation``)."""
import numbers
import pathlib

from keras_segen.reports.curves import curves_section, default_groups
from keras_segen.reports.html import Section, Table
from keras_segen.reports.run_files import history_columns, read_json


class RunReporter:
    """Sections of a report for runs of one recipe."""

    def __init__(self, recipe):
        self.recipe = recipe or {}

    def curve_groups(self, history) -> list:
        return default_groups(history)

    def sections(self, model, run_dir, *, epoch=None) -> list:
        """The page's sections for ``model`` (the current weights during training, the
        checkpoint on a rebuild) and the files of ``run_dir`` (None: no run folder)."""
        history = history_columns(run_dir)
        found = [curves_section(history, self.curve_groups(history))]
        found += self.picture_sections(model, run_dir, history=history, epoch=epoch)
        metrics = read_json(pathlib.Path(run_dir) / "metrics.json") if run_dir else {}
        table = metrics_section(metrics)
        return found + ([table] if table else [])

    def picture_sections(self, model, run_dir, *, history, epoch) -> list:
        return []


def scalar_rows(results, prefix="") -> list:
    """``(name, value)`` of the numbers in a results dict, nested dicts as ``a/b``
    (confusion matrices and other lists are left out)."""
    rows = []
    for key, value in results.items():
        name = f"{prefix}{key}"
        if isinstance(value, bool):
            continue
        if isinstance(value, numbers.Number) or value is None:
            rows.append((name, None if value is None else float(value)))
        elif isinstance(value, dict):
            rows += scalar_rows(value, f"{name}/")
    return rows


def metrics_section(metrics):
    """The held-out numbers of a run's metrics.json (one table per ``dataset/split``),
    or None when it has none yet."""
    tables = []
    for key, value in metrics.items():
        if "/" in key and isinstance(value, dict):
            rows = scalar_rows(value)
            if rows:
                tables.append(Table(["metric", "value"], rows, caption=key))
    if isinstance(metrics.get("baselines"), dict):
        rows = scalar_rows(metrics["baselines"])
        if rows:
            tables.append(Table(["baseline", "value"], rows, caption="baselines"))
    if not tables:
        return None
    return Section("Held-out metrics (metrics.json)", tables,
                   note="measured on model.keras (the kept checkpoint) when the run ended")
