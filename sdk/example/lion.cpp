// lion: the Lion optimizer (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"): the update is the
// sign of an interpolation between momentum and gradient, with decoupled weight decay. A complete optimizer
// plugin, with everything ftrun relies on:
//   - options that implement get_lr()/set_lr() (learning-rate schedules, warm-up and lr_mult set the rate),
//   - one parameter group per group given, each at lr * lr_scale (ft::make_param_groups),
//   - per-parameter state in the optimizer's state() map, saved and loaded with the options (exact resume).
#include <ftsdk/plugin.h>

#include <torch/optim/optimizer.h>
#include <torch/optim/serialize.h>
#include <torch/torch.h>

namespace {

struct LionOptions : torch::optim::OptimizerCloneableOptions<LionOptions> {
  explicit LionOptions(double lr = 1e-4) : lr_(lr) {}
  TORCH_ARG(double, lr);
  TORCH_ARG(double, beta1) = 0.9;
  TORCH_ARG(double, beta2) = 0.99;
  TORCH_ARG(double, weight_decay) = 0.0;

 public:  // TORCH_ARG leaves the struct in a private section
  double get_lr() const override { return lr(); }
  void set_lr(const double rate) override { lr(rate); }

  void serialize(torch::serialize::OutputArchive& archive) const override {
    archive.write("lr", c10::IValue(lr()));
    archive.write("beta1", c10::IValue(beta1()));
    archive.write("beta2", c10::IValue(beta2()));
    archive.write("weight_decay", c10::IValue(weight_decay()));
  }
  void serialize(torch::serialize::InputArchive& archive) override {
    c10::IValue value;
    archive.read("lr", value);
    lr(value.toDouble());
    archive.read("beta1", value);
    beta1(value.toDouble());
    archive.read("beta2", value);
    beta2(value.toDouble());
    archive.read("weight_decay", value);
    weight_decay(value.toDouble());
  }
};

struct LionParamState : torch::optim::OptimizerCloneableParamState<LionParamState> {
  TORCH_ARG(torch::Tensor, exp_avg);

 public:
  void serialize(torch::serialize::OutputArchive& archive) const override { archive.write("exp_avg", exp_avg()); }
  void serialize(torch::serialize::InputArchive& archive) override { archive.read("exp_avg", exp_avg_); }
};

class Lion final : public torch::optim::Optimizer {
 public:
  Lion(std::vector<torch::optim::OptimizerParamGroup> groups, const LionOptions& defaults)
      : Optimizer(std::move(groups), std::make_unique<LionOptions>(defaults)) {}

  torch::Tensor step(LossClosure closure = nullptr) override {
    torch::NoGradGuard no_grad;
    torch::Tensor loss;
    if (closure) {
      torch::AutoGradMode enable(true);
      loss = closure();
    }
    for (auto& group : param_groups()) {
      const auto& options = static_cast<const LionOptions&>(group.options());
      for (auto& p : group.params()) {
        if (!p.grad().defined()) continue;
        auto& slot = state()[p.unsafeGetTensorImpl()];
        if (!slot) {
          auto fresh = std::make_unique<LionParamState>();
          fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
          slot = std::move(fresh);
        }
        auto& exp_avg = static_cast<LionParamState&>(*slot).exp_avg();
        const auto& grad = p.grad();
        p.mul_(1 - options.lr() * options.weight_decay());
        p.add_((exp_avg * options.beta1() + grad * (1 - options.beta1())).sign_(), -options.lr());
        exp_avg.mul_(options.beta2()).add_(grad, 1 - options.beta2());
      }
    }
    return loss;
  }

  void save(torch::serialize::OutputArchive& archive) const override {
    torch::optim::serialize<LionParamState, LionOptions>(archive, *this);
  }
  void load(torch::serialize::InputArchive& archive) override {
    torch::optim::serialize<LionParamState, LionOptions>(archive, *this);
  }
};

std::shared_ptr<torch::optim::Optimizer> make_lion(const ft::Params& params, const ft::OptimizerContext& ctx) {
  LionOptions base(params.required_finite("lr"));
  base.beta1(params.get_finite("beta1", 0.9)).beta2(params.get_finite("beta2", 0.99));
  base.weight_decay(params.get_finite("weight_decay", 0.0));
  if (base.lr() <= 0) params.fail("lr", "must be positive (Lion wants 3-10x less than AdamW)");
  if (base.beta1() < 0 || base.beta1() >= 1) params.fail("beta1", "must be in [0, 1)");
  if (base.beta2() < 0 || base.beta2() >= 1) params.fail("beta2", "must be in [0, 1)");
  return std::make_shared<Lion>(ft::make_param_groups(ctx, base), base);
}

void register_components(ft::Registry& registry) { registry.add_optimizer("lion", make_lion); }

}  // namespace

FT_PLUGIN("lion", "1.0.0", register_components)
