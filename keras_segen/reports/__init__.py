"""Run reports: ``OUT/report.html``, one self-contained page per run.

The page's content comes from the run's kind (``ModelKind.reporter(recipe, data)``
returns a ``base.RunReporter``); this package draws (``figures``), assembles
(``html``) and reads the run folder (``run_files``). ``callbacks.report.RunReport``
rewrites the page each epoch; ``rebuild_report`` (``keras-segen report OUT``) and
``evaluation_report`` (``keras-segen evaluate --report``) write it afterwards.
"""
import pathlib
import time

from keras_segen.reports.base import RunReporter, scalar_rows
from keras_segen.reports.html import Image, Section, Table, write_page

REPORT_NAME = "report.html"


def write_report(path, reporter, model, run_dir, *, epoch=None, title="", extra=()):
    """Write the page of ``reporter``'s sections for ``model`` (plus ``extra``
    sections first) to ``path`` atomically; returns ``(path, seconds it took)``."""
    started = time.perf_counter()
    sections = [*extra, *reporter.sections(model, run_dir, epoch=epoch)]
    recipe = reporter.recipe
    what = ", ".join(str(v) for v in (recipe.get("arch"), (recipe.get("dataset") or {})
                                      .get("name")) if v)
    when = f"after epoch {epoch}" if epoch else "from model.keras"
    subtitle = f"{what} · {when} · {run_dir or 'no run folder'}"
    subtitle += f" · figures drawn in {time.perf_counter() - started:.1f} s"
    write_page(path, title or f"{recipe.get('name', 'model')} report", sections,
               subtitle=subtitle)
    return pathlib.Path(path), time.perf_counter() - started


def rebuild_report(run_dir, path=None) -> pathlib.Path:
    """Rewrite ``run_dir/report.html`` (or ``path``) from the run's files: model.keras,
    history.csv, metrics.json and the recipe in run.json."""
    import keras

    from keras_segen.kinds import kind_of_recipe
    from keras_segen.reports.run_files import run_recipe

    run_dir = pathlib.Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run folder {run_dir} does not exist")
    recipe = run_recipe(run_dir)
    if not recipe:
        raise ValueError(f"{run_dir} is not a training run folder: no run.json or "
                         "metrics.json records its recipe")
    model_path = run_dir / "model.keras"
    if not model_path.is_file():
        raise FileNotFoundError(f"{model_path} does not exist: the run has not finished "
                                "an epoch yet")
    model = keras.saving.load_model(model_path)
    reporter = kind_of_recipe(recipe).reporter(recipe)
    return write_report(path or run_dir / REPORT_NAME, reporter, model, run_dir)[0]


def check_report_path(path) -> pathlib.Path:
    """Refuse a report path that is no .html file name (before a long evaluation)."""
    path = pathlib.Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"--report {path}: the report file must end in .html")
    if path.is_dir():
        raise IsADirectoryError(f"--report {path} is a folder; give a file name ending .html")
    return path


def evaluation_report(path, model, recipe, kind, results, *, split, source) -> pathlib.Path:
    """The page of ``keras-segen evaluate --report``: the evaluation's numbers first,
    then the kind's sections on ``split`` (with the run's curves when ``source`` is a
    run folder)."""
    path = check_report_path(path)
    extra = [Section(f"Evaluation on {split}", [Table(["metric", "value"],
                                                      scalar_rows(results))])]
    confusion = results.get("confusion_matrix")
    names = list(results.get("per_class_iou") or {})
    if confusion and len(names) == len(confusion):
        from keras_segen.reports.figures import confusion_figure

        extra[0].items.append(Image(confusion_figure(confusion, names,
                                                     title=f"confusion ({split}, all tiles)"),
                                    caption="rows: truth, normalised to 1"))
    run_dir = pathlib.Path(source) if pathlib.Path(source).is_dir() else None
    reporter = kind.reporter(recipe, split=split)
    return write_report(path, reporter, model, run_dir, extra=extra,
                        title=f"{source} on {split}")[0]


__all__ = ["REPORT_NAME", "RunReporter", "check_report_path", "evaluation_report",
           "rebuild_report", "write_report"]
