"""Does ftrun's TPE find good values as fast as Optuna's, and both faster than random search? (issue 24)

On each test function (bench/tpe_functions.cpp: Branin 2-D, Hartmann 6-D and a fine-tuning-shaped space of
every dimension kind), over SEEDS seeds, runs a sweep of TRIALS trials with ftrun's random and TPE samplers (the
ftrun_tpe_bench executable, through the same Sampler interface a sweep uses) and with Optuna's RandomSampler and
TPESampler (default settings, as ftrun's: multivariate), and ftrun's TPE with multivariate = false, and prints the best value after 10, 25, 50 and TRIALS trials: the mean
over seeds and its standard error, lower is better. Also the time each sampler spent proposing, and the ratio.

    ninja -C build ftrun_tpe_bench
    .venv/bin/python bench/tpe_benchmark.py build/ftrun_tpe_bench [--trials 100] [--seeds 20]
"""

import argparse
import json
import math
import subprocess
import time

import optuna

optuna.logging.set_verbosity(optuna.logging.ERROR)

BRANIN_MIN, HARTMANN6_MIN = 0.397887, -3.32237


def branin(trial):
    x1, x2 = trial.suggest_float("x1", -5, 10), trial.suggest_float("x2", 0, 15)
    b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


ALPHA = [1.0, 1.2, 3.0, 3.2]
A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
P = [[0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886], [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
     [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650], [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381]]


def hartmann6(trial):
    x = [trial.suggest_float(f"x{j + 1}", 0, 1) for j in range(6)]
    return -sum(ALPHA[i] * math.exp(-sum(A[i][j] * (x[j] - P[i][j]) ** 2 for j in range(6))) for i in range(4))


def finetune(trial):
    lr = math.log10(trial.suggest_float("optimizer.lr", 1e-5, 1e-1, log=True)) + 3
    mult = math.log10(trial.suggest_float("backbone.lr_mult", 0.01, 1, log=True)) + 1
    wd = (trial.suggest_float("optimizer.weight_decay", 0, 0.1) - 0.03) * 10
    epochs = (trial.suggest_int("train.epochs", 1, 30) - 12) / 10
    optimizer = {"sgd": 0.6, "adam": 0.1, "adamw": 0.0}[trial.suggest_categorical("optimizer.type",
                                                                                ["sgd", "adam", "adamw"])]
    return lr ** 2 + 0.5 * mult ** 2 + 0.3 * wd ** 2 + epochs ** 2 + optimizer


FUNCTIONS = {"branin": (branin, BRANIN_MIN), "hartmann6": (hartmann6, HARTMANN6_MIN), "finetune": (finetune, 0.0)}


def ftrun_runs(bench, name, method, trials, seeds):
    out = subprocess.run([bench, name, method, str(trials), str(seeds)], check=True, capture_output=True, text=True)
    runs = [json.loads(line) for line in out.stdout.splitlines()]
    return [run["values"] for run in runs], sum(run["propose_seconds"] for run in runs)


def optuna_runs(name, sampler_class, trials, seeds):
    objective, values, seconds = FUNCTIONS[name][0], [], 0.0
    for seed in range(seeds):
        study = optuna.create_study(sampler=sampler_class(seed=seed))
        start = time.perf_counter()
        study.optimize(objective, n_trials=trials)
        seconds += time.perf_counter() - start  # the objective is negligible beside the sampler
        values.append([t.value for t in study.trials])
    return values, seconds


def best_after(runs, n):
    bests = [min(values[:n]) for values in runs]
    mean = sum(bests) / len(bests)
    spread = math.sqrt(sum((b - mean) ** 2 for b in bests) / (len(bests) - 1)) / math.sqrt(len(bests))
    return mean, spread


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bench", help="build/ftrun_tpe_bench")
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    checkpoints = [n for n in (10, 25, 50) if n < args.trials] + [args.trials]
    for name, (_, minimum) in FUNCTIONS.items():
        samplers = {
            "random (ftrun)": ftrun_runs(args.bench, name, "random", args.trials, args.seeds),
            "random (Optuna)": optuna_runs(name, optuna.samplers.RandomSampler, args.trials, args.seeds),
            "TPE (ftrun)": ftrun_runs(args.bench, name, "tpe", args.trials, args.seeds),
            "TPE (Optuna)": optuna_runs(name, optuna.samplers.TPESampler, args.trials, args.seeds),
            "TPE univariate (ftrun)": ftrun_runs(args.bench, name, "tpe-univariate", args.trials, args.seeds),
        }
        print(f"\n{name} (minimum {minimum}), best value after N trials, mean ± standard error over "
              f"{args.seeds} seeds")
        print(f"| sampler | " + " | ".join(f"N = {n}" for n in checkpoints) + " | proposing, s per trial |")
        print("| --- | " + " | ".join("---" for _ in checkpoints) + " | --- |")
        for label, (runs, seconds) in samplers.items():
            cells = " | ".join("{:.4f} ± {:.4f}".format(*best_after(runs, n)) for n in checkpoints)
            print(f"| {label} | {cells} | {seconds / (args.trials * args.seeds):.2e} |")
        ratio = samplers["TPE (Optuna)"][1] / max(samplers["TPE (ftrun)"][1], 1e-9)
        print(f"ftrun's TPE proposes {ratio:.0f}x faster than Optuna's (Optuna's time includes its study's bookkeeping and the objective)")


if __name__ == "__main__":
    main()
