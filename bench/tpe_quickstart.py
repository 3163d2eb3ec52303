"""How many trials does TPE need to reach the best value a 27-point grid finds, on a real ftrun sweep? (issue 24)

Runs bench/quickstart_grid27.toml (the quickstart's few-shot fine-tuning, a 3 x 3 x 3 grid over the fine-tuning
learning rate, the backbone's multiplier and the weight decay) and bench/quickstart_tpe.toml (TPE over the same
ranges, 27 trials, for each --tpe-seeds sweep seed) with ftrun itself into a fresh store, then prints each sweep's
best validation accuracy after every trial and the first TPE trial that reaches the grid's best. About 15 minutes
on 2 CPU cores with the defaults.

    .venv/bin/python bench/tpe_quickstart.py build/ftrun [--workers 2] [--tpe-seeds 0,1]
"""

import argparse
import pathlib
import sqlite3
import subprocess
import tempfile
import time

BENCH = pathlib.Path(__file__).resolve().parent


def run_sweep(ftrun, toml, store, workers, overrides=()):
    start = time.time()
    command = [ftrun, "sweep", str(toml), "--workers", str(workers), "--store", str(store)]
    for override in overrides:
        command += ["--set", override]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.time() - start


def trials(store, fingerprint_file):
    """(number, sampler, values, objective) of the newest sweep of `fingerprint_file`, in trial order."""
    with sqlite3.connect(store) as db:
        sweep_id = db.execute("SELECT MAX(id) FROM sweeps WHERE experiment_file = ?", (str(fingerprint_file),)).fetchone()[0]
        return db.execute(
            "SELECT t.number, t.sampler, replace(t.params, char(10), ', '), "
            "(SELECT MAX(e.val_accuracy) FROM epoch_metrics e WHERE e.run_id = t.run_id) "
            "FROM trials t WHERE t.sweep_id = ? ORDER BY t.number", (sweep_id,)).fetchall()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("ftrun")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tpe-seeds", default="0,1")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = pathlib.Path(folder) / "tpe_quickstart.db"
        grid_toml = BENCH / "quickstart_grid27.toml"
        seconds = run_sweep(args.ftrun, grid_toml, store, args.workers)
        grid = trials(store, grid_toml)
        grid_best = max(row[3] for row in grid)
        best_row = max(grid, key=lambda row: row[3])
        print(f"grid: 27 trials in {seconds:.0f} s, best validation accuracy {grid_best:.4f} "
              f"(trial {best_row[0]}: {best_row[2]})")
        for seed in args.tpe_seeds.split(","):
            # Each seed is a sweep of its own: a copy of the file with its seed (the fingerprint is the text).
            toml = pathlib.Path(folder) / f"quickstart_tpe_seed{seed}.toml"
            toml.write_text((BENCH / "quickstart_tpe.toml").read_text().replace("seed = 0\nmetric", f"seed = {seed}\nmetric"))
            seconds = run_sweep(args.ftrun, toml, store, args.workers)
            rows = trials(store, toml)
            best, reached, curve = 0.0, None, []
            for number, sampler, values, objective in rows:
                best = max(best, objective or 0.0)
                curve.append(f"{best:.4f}")
                if reached is None and best >= grid_best:
                    reached = number + 1
            best_row = max(rows, key=lambda row: row[3] or 0.0)
            print(f"tpe (sweep seed {seed}): 27 trials in {seconds:.0f} s, best {best:.4f} (trial {best_row[0]}, "
                  f"{best_row[1]}: {best_row[2]}); reaches the grid's best after "
                  f"{reached if reached else 'more than 27'} trials")
            print("  best so far after each trial: " + " ".join(curve))


if __name__ == "__main__":
    main()
