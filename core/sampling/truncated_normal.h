#pragma once
// The standard normal distribution truncated to [a, b], in log space where tails need it: what a Parzen estimator
// of TPE (tpe.h) is made of. A port of Optuna's optuna/samplers/_tpe/_truncnorm.py (itself after SciPy's
// truncnorm), case for case, so that ftrun's TPE computes the densities Optuna computes.

namespace ft::truncated_normal {

/// log Φ(x), accurate far into the left tail (an asymptotic series below -20).
double log_ndtr(double x);

/// log(Φ(b) - Φ(a)): the log of the standard normal's mass in [a, b], working in the left tail by symmetry.
double log_gauss_mass(double a, double b);

/// The log density at x of N(loc, scale) truncated to [loc + a·scale, loc + b·scale] (a, b standardised):
/// -inf outside.
double log_pdf(double x, double a, double b, double loc, double scale);

/// The quantile q in [0, 1] of the standard normal truncated to [a, b].
double ppf(double q, double a, double b);

}  // namespace ft::truncated_normal
