"""Optuna's TPE on fixed trial histories, for tests/test_tpe.cpp: for each case, the good/bad split, and per
dimension (univariate TPE) and over the whole space (multivariate TPE, Optuna's default) the log densities l(x)
and g(x) of Optuna's Parzen estimators at given candidates and the candidate TPE chooses. Prints JSON. Uses Optuna's own internals (optuna.samplers._tpe), with TPESampler's default parameters.
"""

import json
import math
import sys
import warnings

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.samplers import TPESampler
from optuna.samplers._tpe.parzen_estimator import _ParzenEstimator
from optuna.samplers._tpe.sampler import _split_trials
from optuna.trial import TrialState, create_trial

warnings.simplefilter("ignore")


class _StableArgsortNumpy:
    """numpy with a stable argsort. numpy's default argsort leaves the order of equal values unspecified (its
    AVX-512 and scalar sorts differ), and a Parzen estimator's kernel widths follow that order: where trials share
    a value (integers do) and their weights differ (beyond 25 trials), Optuna's densities depend on the machine.
    The reference pins them to the stable order, which ftrun uses."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def argsort(a, *args, **kwargs):
        kwargs.setdefault("kind", "stable")
        return np.argsort(a, *args, **kwargs)


optuna.samplers._tpe.parzen_estimator.np = _StableArgsortNumpy()
optuna.logging.set_verbosity(optuna.logging.ERROR)

SPACE = {
    "x": FloatDistribution(-5.0, 5.0),
    "lr": FloatDistribution(1e-5, 1e-1, log=True),
    "epochs": IntDistribution(1, 10),
    "optimizer": CategoricalDistribution(["sgd", "adam", "adamw"]),
}


def dimension(distribution):
    if isinstance(distribution, CategoricalDistribution):
        return {"kind": "categorical", "choices": len(distribution.choices)}
    return {"kind": "numeric", "low": distribution.low, "high": distribution.high,
            "step": 1.0 if isinstance(distribution, IntDistribution) else 0.0, "log": distribution.log}


def history(rng, completed, pruned, running):
    trials = []
    for number in range(completed + pruned + running):
        params = {"x": float(rng.uniform(-5, 5)), "lr": float(math.exp(rng.uniform(math.log(1e-5), math.log(1e-1)))),
                  "epochs": int(rng.randint(1, 11)), "optimizer": ["sgd", "adam", "adamw"][rng.randint(3)]}
        # The objective rewards x near 1, lr near 1e-3 and adam, so the good trials cluster.
        value = (params["x"] - 1) ** 2 + (math.log10(params["lr"]) + 3) ** 2 + (params["optimizer"] != "adam")
        value += 0.1 * params["epochs"]
        if number < completed:
            trial = create_trial(state=TrialState.COMPLETE, value=value, params=params, distributions=SPACE)
        elif number < completed + pruned:
            steps = int(rng.randint(1, 5))
            trial = create_trial(state=TrialState.PRUNED, params=params, distributions=SPACE,
                                 intermediate_values={s: value + (steps - s) for s in range(1, steps + 1)})
        else:
            trial = create_trial(state=TrialState.RUNNING, params=params, distributions=SPACE)
        trials.append(trial)
    return trials


def case(seed, completed, pruned, running, direction):
    rng = np.random.RandomState(seed)
    study = optuna.create_study(direction=direction, sampler=TPESampler(seed=seed))
    for trial in history(rng, completed, pruned, running):
        study.add_trial(trial)
    trials = study.get_trials(deepcopy=False)
    finished = sum(t.state != TrialState.RUNNING for t in trials)
    below, above = _split_trials(study, trials, optuna.samplers._tpe.sampler.default_gamma(finished))
    sampler = study.sampler
    out = {"direction": direction, "trials": [], "below": [t.number for t in below], "above": [t.number for t in above],
           "dimensions": []}
    for t in trials:
        row = {"number": t.number, "state": t.state.name.lower(),
               "values": [SPACE[name].to_internal_repr(t.params[name]) for name in SPACE]}
        if t.state == TrialState.COMPLETE:
            row["objective"] = t.value
        if t.state == TrialState.PRUNED:
            step, value = max(t.intermediate_values.items())
            row["last_step"], row["last_value"] = step, value
        out["trials"].append(row)
    for name, distribution in SPACE.items():
        space = {name: distribution}
        mpe_below = sampler._build_parzen_estimator(study, space, below, handle_below=True)
        mpe_above = sampler._build_parzen_estimator(study, space, above, handle_below=False)
        candidates = mpe_below.sample(np.random.RandomState(seed + 1), 24)
        log_l = mpe_below.log_pdf(candidates)
        log_g = mpe_above.log_pdf(candidates)
        out["dimensions"].append({"name": name, "dimension": dimension(distribution),
                                  "candidates": candidates[name].tolist(), "log_l": log_l.tolist(),
                                  "log_g": log_g.tolist(), "best": int(np.argmax(log_l - log_g))})
    # Multivariate, Optuna's default: one estimator over the whole space, candidates drawn jointly.
    mpe_below = sampler._build_parzen_estimator(study, SPACE, below, handle_below=True)
    mpe_above = sampler._build_parzen_estimator(study, SPACE, above, handle_below=False)
    candidates = mpe_below.sample(np.random.RandomState(seed + 2), 24)
    log_l, log_g = mpe_below.log_pdf(candidates), mpe_above.log_pdf(candidates)
    out["joint"] = {"candidates": np.array([candidates[name] for name in SPACE]).T.tolist(), "log_l": log_l.tolist(),
                    "log_g": log_g.tolist(), "best": int(np.argmax(log_l - log_g))}
    return out


cases = [case(1, 12, 0, 0, "minimize"), case(2, 11, 3, 2, "minimize"), case(3, 40, 5, 3, "maximize"),
         case(4, 2, 9, 1, "minimize"), case(5, 30, 0, 0, "minimize")]
json.dump(cases, sys.stdout)
