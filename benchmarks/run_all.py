"""All performance benchmarks in one command; each prints its table and writes JSON
under runs/benchmarks/.

    python benchmarks/run_all.py [--quick]
"""
import argparse
import sys

import classical_baselines
import evaluation_cost
import gpu_check
import hardware_limit
import input_pipeline
import peak_memory
import recipe_cost
import region_inference
import segformer_vs_keras_hub
import serving_latency
import serving_profile
import training_profile
import training_throughput


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    args = parser.parse_args()
    rounds = ["--rounds", "2" if args.quick else "4"]
    for name, rate in hardware_limit.matmul_flops_per_s().items():
        print(f"dense matmul {name}: {rate / 1e9:.1f} GFLOP/s")
    training_throughput.main(rounds + (["--steps", "3"] if args.quick else []))
    recipe_cost.main(rounds + (["--steps", "3"] if args.quick else []))
    training_profile.main(["--steps", "2" if args.quick else "10"])
    segformer_vs_keras_hub.main(rounds + (["--steps", "1", "--sizes", "128"]
                                          if args.quick else []))
    input_pipeline.main(rounds + (["--steps", "5"] if args.quick else []))
    serving_latency.main(rounds)
    serving_profile.main(["--runs", "3" if args.quick else "20"])
    peak_memory.main(["--steps", "3"] if args.quick else [])
    evaluation_cost.main(["--num", "1000", "--rounds", "1"] if args.quick else [])
    region_inference.main([])
    classical_baselines.main(["--quick", "--rounds", "1"] if args.quick else [])
    # A CPU dry run wherever no GPU is visible; --quick: one step, XLA left out.
    gpu_check.main(["--dry-run", "--steps", "1", "--modes", "float32", "mixed_float16"]
                   if args.quick else [])
    return 0


if __name__ == "__main__":
    sys.exit(main())
