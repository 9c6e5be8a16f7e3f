"""benchmarks/evaluation_cost.py: what its rows hold (no wall-clock assertion)."""
import pytest

import evaluation_cost


def test_segmentation_row_is_one_region_of_the_zoo_unet():
    (row,) = evaluation_cost.segmentation_rows(rounds=1)
    assert "384x384" in row["what"] and row["weights"] == "trained"
    assert row["per_s"] == pytest.approx(1.0 / row["seconds"])
    assert row["ms_img"] == pytest.approx(1e3 * row["seconds"])


def test_refuses_fewer_than_two_samples(capsys):
    with pytest.raises(SystemExit) as raised:
        evaluation_cost.main(["--num", "1"])
    assert raised.value.code == 2 and "--num must be at least 2" in capsys.readouterr().err


def test_only_one_part_and_one_sampler(tmp_path):
    rows = evaluation_cost.main(["--only", "sampling", "--samplers", "dcgan_fashion_mnist",
                                 "--rounds", "1", "--json", str(tmp_path / "cost.json")])
    (row,) = rows
    assert row["what"] == "dcgan_fashion_mnist generate(256)"
    assert row["ms_img"] == pytest.approx(1e3 * row["seconds"] / 256)
    assert (tmp_path / "cost.json").is_file()
