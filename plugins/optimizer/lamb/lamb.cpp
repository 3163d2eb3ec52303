// lamb: LAMB (You et al. 2020, "Large Batch Optimization for Deep Learning"), as timm's Lamb does it: Adam's
// bias-corrected update plus decoupled weight decay, scaled per tensor by the trust ratio ||w|| / ||update||, after
// the gradients are scaled down together when their global norm exceeds max_grad_norm.
//   lr (required), betas ([0.9, 0.999]), eps (1e-6), weight_decay (0.01), max_grad_norm (1.0; 0: never scale),
//   trust_clip (false: cap the trust ratio at 1), always_adapt (false: without weight decay, no trust ratio)
#include <ftsdk/plugin.h>

#include <torch/optim/optimizer.h>
#include <torch/optim/serialize.h>
#include <torch/torch.h>

#include <cmath>

namespace {

struct LambOptions : torch::optim::OptimizerCloneableOptions<LambOptions> {
  explicit LambOptions(double lr = 1e-3) : lr_(lr) {}
  TORCH_ARG(double, lr);
  TORCH_ARG(double, beta1) = 0.9;
  TORCH_ARG(double, beta2) = 0.999;
  TORCH_ARG(double, eps) = 1e-6;
  TORCH_ARG(double, weight_decay) = 0.01;
  TORCH_ARG(double, max_grad_norm) = 1.0;
  TORCH_ARG(bool, trust_clip) = false;
  TORCH_ARG(bool, always_adapt) = false;

 public:
  double get_lr() const override { return lr(); }
  void set_lr(const double rate) override { lr(rate); }

  void serialize(torch::serialize::OutputArchive& archive) const override {
    archive.write("lr", c10::IValue(lr()));
    archive.write("beta1", c10::IValue(beta1()));
    archive.write("beta2", c10::IValue(beta2()));
    archive.write("eps", c10::IValue(eps()));
    archive.write("weight_decay", c10::IValue(weight_decay()));
    archive.write("max_grad_norm", c10::IValue(max_grad_norm()));
    archive.write("trust_clip", c10::IValue(trust_clip()));
    archive.write("always_adapt", c10::IValue(always_adapt()));
  }
  void serialize(torch::serialize::InputArchive& archive) override {
    c10::IValue value;
    auto number = [&](const char* key) {
      archive.read(key, value);
      return value.toDouble();
    };
    auto flag = [&](const char* key) {
      archive.read(key, value);
      return value.toBool();
    };
    lr(number("lr")).beta1(number("beta1")).beta2(number("beta2")).eps(number("eps"));
    weight_decay(number("weight_decay")).max_grad_norm(number("max_grad_norm"));
    trust_clip(flag("trust_clip")).always_adapt(flag("always_adapt"));
  }
};

struct LambParamState : torch::optim::OptimizerCloneableParamState<LambParamState> {
  TORCH_ARG(std::int64_t, step) = 0;
  TORCH_ARG(torch::Tensor, exp_avg);
  TORCH_ARG(torch::Tensor, exp_avg_sq);

 public:
  void serialize(torch::serialize::OutputArchive& archive) const override {
    archive.write("step", c10::IValue(step()));
    archive.write("exp_avg", exp_avg());
    archive.write("exp_avg_sq", exp_avg_sq());
  }
  void serialize(torch::serialize::InputArchive& archive) override {
    c10::IValue value;
    archive.read("step", value);
    step_ = value.toInt();
    archive.read("exp_avg", exp_avg_);
    archive.read("exp_avg_sq", exp_avg_sq_);
  }
};

class Lamb final : public torch::optim::Optimizer {
 public:
  Lamb(std::vector<torch::optim::OptimizerParamGroup> groups, const LambOptions& defaults)
      : Optimizer(std::move(groups), std::make_unique<LambOptions>(defaults)) {}

  torch::Tensor step(LossClosure closure = nullptr) override {
    torch::NoGradGuard no_grad;
    torch::Tensor loss;
    if (closure) {
      torch::AutoGradMode enable(true);
      loss = closure();
    }
    // The gradients' global norm over every group, kept on the device (no read-back).
    std::vector<torch::Tensor> squares;
    for (auto& group : param_groups()) {
      for (auto& p : group.params()) {
        if (p.grad().defined()) squares.push_back(p.grad().to(torch::kFloat32).pow(2).sum());
      }
    }
    if (squares.empty()) return loss;
    const auto global_norm = torch::stack(squares).sum().sqrt();
    for (auto& group : param_groups()) {
      const auto& options = static_cast<const LambOptions&>(group.options());
      const auto divisor = options.max_grad_norm() > 0 ? torch::clamp_min(global_norm / options.max_grad_norm(), 1.0)
                                                       : torch::ones_like(global_norm);
      for (auto& p : group.params()) {
        if (!p.grad().defined()) continue;
        auto& slot = state()[p.unsafeGetTensorImpl()];
        if (!slot) {
          auto fresh = std::make_unique<LambParamState>();
          fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
          fresh->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
          slot = std::move(fresh);
        }
        auto& s = static_cast<LambParamState&>(*slot);
        s.step(s.step() + 1);
        const auto grad = p.grad() / divisor.to(p.scalar_type());
        s.exp_avg().mul_(options.beta1()).add_(grad, 1 - options.beta1());
        s.exp_avg_sq().mul_(options.beta2()).addcmul_(grad, grad, 1 - options.beta2());
        const double correction1 = 1 - std::pow(options.beta1(), static_cast<double>(s.step()));
        const double correction2 = 1 - std::pow(options.beta2(), static_cast<double>(s.step()));
        const auto denominator = (s.exp_avg_sq().sqrt() / std::sqrt(correction2)).add_(options.eps());
        auto update = (s.exp_avg() / correction1).div_(denominator);
        if (options.weight_decay() != 0) update.add_(p, options.weight_decay());
        if (options.weight_decay() != 0 || options.always_adapt()) {
          const auto weight_norm = p.norm(2), update_norm = update.norm(2);
          const auto one = torch::ones_like(weight_norm);
          auto trust =
              torch::where(weight_norm > 0, torch::where(update_norm > 0, weight_norm / update_norm, one), one);
          if (options.trust_clip()) trust = torch::clamp_max(trust, 1.0);
          update.mul_(trust);
        }
        p.add_(update, -options.lr());
      }
    }
    return loss;
  }

  void save(torch::serialize::OutputArchive& archive) const override {
    torch::optim::serialize<LambParamState, LambOptions>(archive, *this);
  }
  void load(torch::serialize::InputArchive& archive) override {
    torch::optim::serialize<LambParamState, LambOptions>(archive, *this);
  }
};

std::shared_ptr<torch::optim::Optimizer> make_lamb(const ft::Params& params, const ft::OptimizerContext& ctx) {
  LambOptions base(params.required_finite("lr"));
  const auto betas = params.get<std::vector<double>>("betas", {0.9, 0.999});
  if (betas.size() != 2 || betas[0] < 0 || betas[0] >= 1 || betas[1] < 0 || betas[1] >= 1) {
    params.fail("betas", "expected two numbers in [0, 1), e.g. [0.9, 0.999]");
  }
  base.beta1(betas[0]).beta2(betas[1]);
  base.eps(params.get_finite("eps", 1e-6)).weight_decay(params.get_finite("weight_decay", 0.01));
  base.max_grad_norm(params.get_finite("max_grad_norm", 1.0));
  base.trust_clip(params.get<bool>("trust_clip", false)).always_adapt(params.get<bool>("always_adapt", false));
  if (base.lr() <= 0) params.fail("lr", "must be positive");
  if (base.eps() <= 0) params.fail("eps", "must be positive");
  if (base.weight_decay() < 0) params.fail("weight_decay", "must not be negative");
  if (base.max_grad_norm() < 0) params.fail("max_grad_norm", "must not be negative (0: never scale)");
  return std::make_shared<Lamb>(ft::make_param_groups(ctx, base), base);
}

void register_components(ft::Registry& registry) { registry.add_optimizer("lamb", make_lamb); }

}  // namespace

FT_PLUGIN("lamb", "1.0.0", register_components)
