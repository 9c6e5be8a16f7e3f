import pathlib
import sys

# The benchmarks are scripts that import their siblings (``import _common``).
BENCHMARKS = pathlib.Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))
