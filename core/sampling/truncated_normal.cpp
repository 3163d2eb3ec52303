#include "sampling/truncated_normal.h"

#include <cfloat>
#include <cmath>
#include <limits>

namespace ft::truncated_normal {
namespace {

const double kLogSqrt2Pi = 0.5 * std::log(2 * M_PI);

// Φ(a), from erf or erfc on the side where it keeps its digits (as Optuna's _ndtr_single).
double ndtr(double a) {
  const double x = a / std::sqrt(2.0);
  if (x < -1 / std::sqrt(2.0)) return 0.5 * std::erfc(-x);
  if (x < 1 / std::sqrt(2.0)) return 0.5 + 0.5 * std::erf(x);
  return 1.0 - 0.5 * std::erfc(x);
}

// log(p - q) from log p and log q.
double log_diff(double log_p, double log_q) { return log_p + std::log1p(-std::exp(log_q - log_p)); }

// log(p + q) from log p and log q.
double log_sum(double log_p, double log_q) {
  const double high = std::max(log_p, log_q);
  if (std::isinf(high) && high < 0) return high;
  return high + std::log1p(std::exp(-std::fabs(log_p - log_q)));
}

// x such that log Φ(x) = y (y <= 0), by Newton's method from an asymptotic first guess (Optuna's _ndtri_exp).
double ndtri_exp(double y) {
  const bool flipped = y > -1e-2;
  const double z = flipped ? std::log(-std::expm1(y)) : y;
  double x = z < -5 ? -std::sqrt(-2.0 * (z + kLogSqrt2Pi)) : -std::sqrt(3.0) / M_PI * std::log(std::expm1(-z));
  for (int i = 0; i < 100; ++i) {
    const double log_ndtr_x = log_ndtr(x);
    const double log_norm_pdf_x = -0.5 * x * x - kLogSqrt2Pi;
    const double dx = (log_ndtr_x - z) * std::exp(log_ndtr_x - log_norm_pdf_x);
    x -= dx;
    if (std::fabs(dx) < 1e-8 * std::fabs(x)) break;
  }
  return flipped ? -x : x;
}

}  // namespace

double log_ndtr(double a) {
  if (a > 6) return -ndtr(-a);
  if (a > -20) return std::log(ndtr(a));
  const double log_lhs = -0.5 * a * a - std::log(-a) - kLogSqrt2Pi;
  double last_total = 0, right_hand_side = 1, numerator = 1, denominator_factor = 1;
  const double denominator_constant = 1 / (a * a);
  double sign = 1;
  for (int i = 1; std::fabs(last_total - right_hand_side) > DBL_EPSILON; ++i) {
    last_total = right_hand_side;
    sign = -sign;
    denominator_factor *= denominator_constant;
    numerator *= 2 * i - 1;
    right_hand_side += sign * numerator * denominator_factor;
  }
  return log_lhs + std::log(right_hand_side);
}

double log_gauss_mass(double a, double b) {
  if (b <= 0) return log_diff(log_ndtr(b), log_ndtr(a));
  if (a > 0) return log_diff(log_ndtr(-a), log_ndtr(-b));
  // Central: log1p avoids the cancellation of 1 - (tails) as the mass approaches 1.
  return std::log1p(-ndtr(a) - ndtr(-b));
}

double log_pdf(double x, double a, double b, double loc, double scale) {
  const double standard = (x - loc) / scale;
  if (a == b) return std::numeric_limits<double>::quiet_NaN();
  if (standard < a || standard > b) return -std::numeric_limits<double>::infinity();
  return -standard * standard / 2.0 - kLogSqrt2Pi - log_gauss_mass(a, b) - std::log(scale);
}

double ppf(double q, double a, double b) {
  if (a == b) return std::numeric_limits<double>::quiet_NaN();
  if (q == 0) return a;
  if (q == 1) return b;
  const double log_mass = log_gauss_mass(a, b);
  // The left tail keeps its digits: for a >= 0 the problem is mirrored.
  if (a < 0) return ndtri_exp(log_sum(log_ndtr(a), std::log(q) + log_mass));
  return -ndtri_exp(log_sum(log_ndtr(-b), std::log1p(-q) + log_mass));
}

}  // namespace ft::truncated_normal
