// halton: a sampler that spreads a sweep's trials evenly over its space with the Halton sequence (one prime base
// per parameter), where random draws leave clumps and gaps. Trial n takes point n + 1 + skip of the sequence, so
// its values depend on its number alone, and a resumed sweep proposes what an uninterrupted one would.
//   [sweep]
//   method = "halton"
//   trials = 16
//   [sweep.sampler]
//   skip = 0          # points of the sequence to leave out first
#include <ftsdk/plugin.h>

#include <algorithm>
#include <cmath>
#include <iterator>

namespace {

// The radical inverse of `index` in base `base`: its digits mirrored after the point, in [0, 1).
double radical_inverse(std::uint64_t index, std::uint64_t base) {
  double value = 0, scale = 1.0 / static_cast<double>(base);
  for (; index > 0; index /= base, scale /= static_cast<double>(base)) {
    value += static_cast<double>(index % base) * scale;
  }
  return value;
}

class Halton final : public ft::Sampler {
 public:
  Halton(ft::SamplerContext context, std::int64_t skip) : context_(std::move(context)), skip_(skip) {
    static const std::uint64_t kPrimes[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53};
    if (context_.space.size() > std::size(kPrimes)) {
      throw ft::ConfigError("halton: at most " + std::to_string(std::size(kPrimes)) + " swept parameters");
    }
    bases_.assign(kPrimes, kPrimes + context_.space.size());
  }

  std::optional<ft::TrialProposal> propose(std::int64_t number, const std::vector<ft::TrialSoFar>&,
                                           std::uint64_t) override {
    if (number >= context_.trials) return std::nullopt;
    ft::TrialProposal proposal{{}, "halton"};
    const auto index = static_cast<std::uint64_t>(number + 1 + skip_);
    for (std::size_t d = 0; d < context_.space.size(); ++d) {
      const ft::SearchDimension& dimension = context_.space[d];
      const double u = radical_inverse(index, bases_[d]);
      switch (dimension.kind) {
        case ft::SearchDimension::Kind::list:
          proposal.values.push_back(std::floor(u * static_cast<double>(dimension.values.size())));
          break;
        case ft::SearchDimension::Kind::uniform:
          proposal.values.push_back(dimension.low + u * (dimension.high - dimension.low));
          break;
        case ft::SearchDimension::Kind::log_uniform:
          proposal.values.push_back(
              std::exp(std::log(dimension.low) + u * (std::log(dimension.high) - std::log(dimension.low))));
          break;
        case ft::SearchDimension::Kind::integer:
          proposal.values.push_back(
              std::min(dimension.high, std::floor(dimension.low + u * (dimension.high - dimension.low + 1))));
          break;
      }
    }
    return proposal;
  }

 private:
  ft::SamplerContext context_;
  std::int64_t skip_;
  std::vector<std::uint64_t> bases_;
};

std::shared_ptr<ft::Sampler> make_halton(const ft::Params& params, const ft::SamplerContext& context) {
  const auto skip = params.get<std::int64_t>("skip", 0);
  if (skip < 0) params.fail("skip", "must not be negative");
  return std::make_shared<Halton>(context, skip);
}

void register_components(ft::Registry& registry) { registry.add_sampler("halton", make_halton); }

}  // namespace

FT_PLUGIN("halton", "1.0.0", register_components)
