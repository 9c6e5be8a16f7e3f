"""Every registered architecture through the shared harness (tests/architecture_harness.py):
build at two sizes, config and .keras round trips, mixed precision, MirroredStrategy and
serving export. ``-m slow`` adds the aspects that were never in the default suite."""
import pytest

import keras_segen
from architecture_harness import CASES, case_params, run_architecture_test
from keras_segen import registry


def test_the_case_table_covers_every_registered_architecture():
    # The package's own builders (a test may register a user's builder meanwhile).
    ours = [name for name in keras_segen.list_architectures()
            if registry.get_architecture(name).builder.__module__.startswith("keras_segen.")]
    assert sorted(case.arch for case in CASES) == ours


@pytest.mark.parametrize("case, aspect", case_params())
def test_architecture(case, aspect, tmp_path, architecture_exports):
    run_architecture_test(case, aspects=(aspect,), tmp_path=tmp_path,
                          exports=architecture_exports)
