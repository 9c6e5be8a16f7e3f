"""report.html: self-contained, written atomically, rebuilt from a run folder by
`keras-segen report`, written by `evaluate --report` and each epoch by the trainer."""
import base64
import os

import pytest
from report_helpers import dcgan_run, decoded_images, segmentation_run

from keras_segen.cli import main
from keras_segen.reports import rebuild_report
from keras_segen.reports.figures import curves_figure
from keras_segen.reports.html import Image, Section, Table, render_page, write_page


def test_page_inlines_every_image_and_escapes_text():
    png = curves_figure({"loss": ([1, 2], [1.0, 0.5])}, title="loss", ylabel="loss")
    page = render_page("<run>", [Section("a & b", [Image(png, "c"), Table(["k", "v"], [("x", 0.5)])],
                                         note="n")])
    assert "&lt;run&gt;" in page and "a &amp; b" in page and "<td>0.5000</td>" in page
    assert len(decoded_images(page)) == 1
    assert "src=\"http" not in page and "src=\"file" not in page


def test_page_is_replaced_atomically(tmp_path):
    path = tmp_path / "report.html"
    write_page(path, "old", [Section("s")])
    before = path.read_text()
    with pytest.raises(ValueError, match="no PNG bytes"):
        write_page(path, "new", [Section("s", [Image(b"", "broken")])])
    assert path.read_text() == before  # a failed rewrite leaves the old page
    assert sorted(os.listdir(tmp_path)) == ["report.html"]  # and no temporary file


def test_report_command_rebuilds_a_segmentation_run(tmp_path, capsys):
    run, _ = segmentation_run(tmp_path / "run")
    assert main(["report", str(run)]) == 0
    page = (run / "report.html").read_text()
    assert str(run / "report.html") in capsys.readouterr().out
    images = decoded_images(page)
    # loss, scores, per-class IoU curves; IoU bars; confusion; best and worst overlays
    assert len(images) == 7
    for title in ("Training curves", "Classes", "Best and worst tiles", "Held-out metrics"):
        assert title in page
    assert "24 fixed val tiles" in page


def test_report_of_a_generation_run_reuses_its_sample_grids(tmp_path, random_fashion_mnist):
    random_fashion_mnist(40, 10)
    run, _ = dcgan_run(tmp_path / "run", epochs=3)
    page = rebuild_report(run).read_text()
    images = decoded_images(page)
    grids = [(run / "samples" / f"epoch_{e:03d}.png").read_bytes() for e in (1, 2, 3)]
    for grid in grids:  # the callback's files themselves, not new samples
        assert base64.b64encode(grid).decode() in page
    assert len(images) == 1 + 1 + 3 + 1  # losses, FID, 3 grids, neighbours
    # no FID column in history.csv: the final FID of metrics.json, said so
    assert "stars are the final FID of model.keras on fashion_mnist/test" in page
    assert "pixel-space L2 distance over the first 37 training images" in page  # 40 - val


def test_report_command_names_what_is_missing(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    assert "nowhere does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 2
    assert "no run.json or metrics.json" in capsys.readouterr().err


def test_evaluate_writes_a_report_of_its_numbers(tmp_path, capsys):
    run, _ = segmentation_run(tmp_path / "run")
    path = tmp_path / "eval.html"
    assert main(["evaluate", str(run), "--split", "val", "--report", str(path)]) == 0
    page = path.read_text()
    assert "Evaluation on val" in page and "per_class_iou/ocean" in page
    assert len(decoded_images(page)) == 8  # the confusion of all tiles + the run's 7
    assert main(["evaluate", str(run), "--report", str(tmp_path / "eval.txt")]) == 2
    assert "--report" in capsys.readouterr().err


def test_run_report_callback_writes_each_epoch_and_skips_nan_epochs(tmp_path):
    from keras_segen.callbacks.report import RunReport
    from keras_segen.reports import RunReporter

    callback = RunReport(RunReporter({"name": "r"}), tmp_path)
    callback.on_epoch_end(0, {"loss": float("nan")})
    assert not callback.path.exists()
    callback.on_epoch_end(0, {"loss": 1.0})
    assert "r report" in callback.path.read_text() and len(callback.seconds) == 1
