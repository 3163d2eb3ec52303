// The regularizations of the overfitting toolkit, loaded from their plugin libraries: what each does to a batch,
// checked against the papers' and timm's definitions, and that its random draws follow LibTorch's seed.
#include "loader/plugin_catalog.h"
#include "log/log.h"
#include "temp_dir.h"

#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <memory>

namespace {

struct Toolkit {
  ft::PluginCatalog catalog;
  ft::log::ComponentLogger log{"test"};
  Toolkit() { catalog.load_file(std::string(FT_PLUGIN_DIR) + "/ft_mixup.so"); }

  std::shared_ptr<ft::Regularization> make(const std::string& type,
                                           std::vector<std::pair<std::string, double>> values = {}) {
    ft::Params params("regularization");
    for (const auto& [key, value] : values) params.set(key, ft::to_param_value(value));
    return catalog.make_regularization(type, params, {5, log});
  }
};

ft::Batch batch_of(torch::Tensor images, torch::Tensor targets) {
  return {{ft::tensor_names::kImages, std::move(images)}, {ft::tensor_names::kTargets, std::move(targets)}};
}

ft::Batch sample_batch() {
  torch::manual_seed(11);
  return batch_of(torch::randn({6, 3, 8, 8}), torch::tensor({0, 1, 2, 3, 4, 0}, torch::kLong));
}

// lam, read back from the mixed targets: the first row mixes class 0 (weight lam) with class 0 of the last row...
// so use the second row, which mixes class 1 with class 4.
double lam_of(const torch::Tensor& targets) { return targets[1][1].item<double>(); }

}  // namespace

TEST_CASE("mixup blends each image and its label with the reversed batch's, by one Beta draw", "[toolkit][mixup]") {
  Toolkit toolkit;
  auto mixup = toolkit.make("mixup", {{"alpha", 0.4}});
  const ft::Batch original = sample_batch();
  ft::Batch batch =
      batch_of(original.at(ft::tensor_names::kImages).clone(), original.at(ft::tensor_names::kTargets).clone());
  torch::manual_seed(3);
  mixup->transform_batch(batch);
  const double lam = lam_of(batch.at(ft::tensor_names::kTargets));
  REQUIRE(lam > 0);
  REQUIRE(lam < 1);
  CHECK(torch::allclose(
      batch.at(ft::tensor_names::kImages),
      original.at(ft::tensor_names::kImages) * lam + original.at(ft::tensor_names::kImages).flip(0) * (1 - lam), 1e-5,
      1e-6));
  const auto one_hot = torch::one_hot(original.at(ft::tensor_names::kTargets), 5).to(torch::kFloat32);
  CHECK(torch::allclose(batch.at(ft::tensor_names::kTargets), one_hot * lam + one_hot.flip(0) * (1 - lam), 1e-6, 1e-7));

  // The same seed, the same draw; prob = 0 leaves batches alone.
  ft::Batch again =
      batch_of(original.at(ft::tensor_names::kImages).clone(), original.at(ft::tensor_names::kTargets).clone());
  torch::manual_seed(3);
  mixup->transform_batch(again);
  CHECK(torch::equal(again.at(ft::tensor_names::kImages), batch.at(ft::tensor_names::kImages)));
  ft::Batch untouched =
      batch_of(original.at(ft::tensor_names::kImages).clone(), original.at(ft::tensor_names::kTargets).clone());
  toolkit.make("mixup", {{"prob", 0.0}})->transform_batch(untouched);
  CHECK(torch::equal(untouched.at(ft::tensor_names::kImages), original.at(ft::tensor_names::kImages)));
  CHECK(torch::equal(untouched.at(ft::tensor_names::kTargets), original.at(ft::tensor_names::kTargets)));
}

TEST_CASE("mixup's weights follow Beta(alpha, alpha)", "[toolkit][mixup]") {
  Toolkit toolkit;
  for (const double alpha : {1.0, 0.2}) {
    auto mixup = toolkit.make("mixup", {{"alpha", alpha}});
    const ft::Batch original = sample_batch();
    torch::manual_seed(5);
    double sum = 0, squares = 0;
    const int draws = 3000;
    for (int i = 0; i < draws; ++i) {
      ft::Batch batch = batch_of(original.at(ft::tensor_names::kImages), original.at(ft::tensor_names::kTargets));
      mixup->transform_batch(batch);
      const double lam = lam_of(batch.at(ft::tensor_names::kTargets));
      sum += lam;
      squares += lam * lam;
    }
    const double mean = sum / draws, variance = squares / draws - mean * mean;
    INFO("alpha " << alpha);
    CHECK(mean == Approx(0.5).margin(0.02));
    CHECK(variance == Approx(1.0 / (4 * (2 * alpha + 1))).epsilon(0.1));  // Beta(a, a): 1 / (4 (2a + 1))
  }
}

TEST_CASE("cutmix pastes a box of the reversed batch and weighs the labels by the box's area", "[toolkit][mixup]") {
  Toolkit toolkit;
  auto cutmix = toolkit.make("cutmix");
  const ft::Batch original = sample_batch();
  int boxes = 0;
  for (int seed = 0; seed < 20; ++seed) {
    ft::Batch batch =
        batch_of(original.at(ft::tensor_names::kImages).clone(), original.at(ft::tensor_names::kTargets).clone());
    torch::manual_seed(seed);
    cutmix->transform_batch(batch);
    const auto pasted = batch.at(ft::tensor_names::kImages)
                            .ne(original.at(ft::tensor_names::kImages))
                            .any(1);  // [N, H, W]: pixels taken from the other image
    const double area = pasted[1].sum().item<double>() / 64.0;
    // Every changed pixel comes from the reversed batch, and the label weights are the areas.
    CHECK(torch::equal(
        batch.at(ft::tensor_names::kImages).where(pasted.unsqueeze(1), original.at(ft::tensor_names::kImages).flip(0)),
        original.at(ft::tensor_names::kImages).flip(0)));
    CHECK(lam_of(batch.at(ft::tensor_names::kTargets)) == Approx(1.0 - area).margin(1e-6));
    boxes += area > 0;
  }
  CHECK(boxes > 10);
}

TEST_CASE("mixup with label_smoothing after it gives timm's smoothed mixup targets", "[toolkit][mixup]") {
  Toolkit toolkit;
  toolkit.catalog.load_file(std::string(FT_PLUGIN_DIR) + "/ft_label_smoothing.so");
  auto mixup = toolkit.make("mixup");
  auto smoothing = toolkit.make("label_smoothing", {{"epsilon", 0.1}});
  ft::Batch batch = sample_batch();
  const auto labels = batch.at(ft::tensor_names::kTargets).clone();
  torch::manual_seed(1);
  mixup->transform_batch(batch);
  const double lam = lam_of(batch.at(ft::tensor_names::kTargets));
  const auto logits = torch::randn({6, 5});
  const auto loss = *smoothing->loss(logits, batch, torch::zeros({}));
  // timm's mixup_target: one-hot rows with on = 1 - eps + eps / C and off = eps / C, mixed by lam; its
  // SoftTargetCrossEntropy is the mean of -sum(target * log_softmax).
  const double eps = 0.1;
  const auto smoothed = torch::one_hot(labels, 5).to(torch::kFloat32) * (1 - eps) + eps / 5;
  const auto target = smoothed * lam + smoothed.flip(0) * (1 - lam);
  const auto expected = (-target * torch::log_softmax(logits, 1)).sum(1).mean();
  CHECK(loss.item<double>() == Approx(expected.item<double>()).epsilon(1e-6));
}

TEST_CASE("stochastic depth drops ResNet blocks at random in training only, more often deeper down",
          "[toolkit][stochastic_depth]") {
  Toolkit toolkit;
  toolkit.catalog.load_file(std::string(FT_PLUGIN_DIR) + "/ft_resnet.so");
  auto make = [&](double rate) {
    ft::Params params("backbone");
    params.set("drop_path_rate", ft::to_param_value(rate));
    return toolkit.catalog.make_backbone("resnet18", params, {{3, 32, 32}, toolkit.log, {}, false});
  };
  torch::manual_seed(0);
  auto plain = make(0.0);
  auto dropping = make(0.5);
  // The same weights: stochastic depth adds no parameter.
  torch::NoGradGuard no_grad;
  const auto from = plain->named_parameters(), to = dropping->named_parameters();
  REQUIRE(from.size() == to.size());
  for (const auto& item : from) to[item.key()].copy_(item.value());
  const auto images = torch::randn({8, 3, 32, 32});

  plain->eval();
  dropping->eval();
  CHECK(torch::equal(dropping->forward(images), plain->forward(images)));  // eval: never drops

  plain->train();
  dropping->train();
  torch::manual_seed(1);
  const auto first = dropping->forward(images);
  torch::manual_seed(1);
  CHECK(torch::equal(dropping->forward(images), first));  // the seed decides
  torch::manual_seed(2);
  CHECK_FALSE(torch::equal(dropping->forward(images), first));
  // Without dropping, training mode is deterministic, and differs from the dropping network's output.
  CHECK_FALSE(torch::allclose(plain->forward(images), first));

  CHECK_THROWS_WITH(make(1.0), Catch::Contains("drop_path_rate"));
}

namespace {

// Five steps of an optimizer on a small float64 problem whose gradients change every step, in C++ through the
// plugin and in Python through the reference: PyTorch's own optimizer, or the paper's update written out.
const char* const kReference = R"(
import sys, math, torch
torch.set_default_dtype(torch.float64)
kind, settings = sys.argv[1], dict(kv.split("=") for kv in sys.argv[2:])
f = {k: float(v) for k, v in settings.items()}
w1 = torch.tensor([[0.5, -0.3], [0.8, 0.1]], requires_grad=True)
w2 = torch.tensor([0.2, -0.7, 0.4], requires_grad=True)
params = [w1, w2]

def loss_at(k):
    a = torch.tensor([[1.0, -2.0], [0.5, 3.0]]) * (1 + 0.1 * k)
    return (a * w1 ** 3).sum() + ((w2 - torch.tensor([1.0, 0.0, -1.0])) ** 2 * torch.tensor([2.0, 1.0, 0.5])).sum()

state = {id(p): {"m": torch.zeros_like(p), "v": torch.zeros_like(p), "step": 0} for p in params}

def lion():  # Chen et al. 2023, Algorithm 2
    for p in params:
        m = state[id(p)]["m"]
        p.mul_(1 - f["lr"] * f["weight_decay"])
        p.add_((0.9 * m + 0.1 * p.grad).sign(), alpha=-f["lr"])
        m.mul_(0.99).add_(p.grad, alpha=0.01)

def lamb():  # You et al. 2020, Algorithm 2, with timm's global gradient clipping
    norm = torch.sqrt(sum((p.grad ** 2).sum() for p in params))
    divisor = max(norm.item() / f["max_grad_norm"], 1.0)
    for p in params:
        s = state[id(p)]
        s["step"] += 1
        g = p.grad / divisor
        s["m"].mul_(0.9).add_(g, alpha=0.1)
        s["v"].mul_(0.999).addcmul_(g, g, value=0.001)
        update = (s["m"] / (1 - 0.9 ** s["step"])) / ((s["v"] / (1 - 0.999 ** s["step"])).sqrt() + 1e-6)
        update = update + f["weight_decay"] * p
        ratio = p.norm() / update.norm() if p.norm() > 0 and update.norm() > 0 else 1.0
        p.add_(update * ratio, alpha=-f["lr"])

builtin = {"adam": lambda: torch.optim.Adam(params, lr=f["lr"], weight_decay=f["weight_decay"]),
           "adamw": lambda: torch.optim.AdamW(params, lr=f["lr"], weight_decay=f["weight_decay"]),
           "rmsprop": lambda: torch.optim.RMSprop(params, lr=f["lr"], momentum=f["momentum"], centered=True,
                                                    weight_decay=f["weight_decay"]),
           "adagrad": lambda: torch.optim.Adagrad(params, lr=f["lr"], lr_decay=f["lr_decay"],
                                                  weight_decay=f["weight_decay"],
                                                  initial_accumulator_value=f["initial_accumulator_value"])}
optimizer = builtin[kind]() if kind in builtin else None
for k in range(5):
    for p in params:
        p.grad = None
    loss_at(k).backward()
    with torch.no_grad():
        optimizer.step() if optimizer else {"lion": lion, "lamb": lamb}[kind]()
print(" ".join(repr(v) for p in params for v in p.detach().flatten().tolist()))
)";

std::vector<double> reference_steps(const std::string& kind,
                                    const std::vector<std::pair<std::string, double>>& settings) {
  TempDir dir;
  const auto script = dir / "reference.py";
  std::ofstream(script) << kReference;
  std::string command = std::string(FT_PYTHON) + " " + script + " " + kind;
  for (const auto& [key, value] : settings) command += " " + key + "=" + std::to_string(value);
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  std::vector<double> values;
  double value = 0;
  while (pipe && std::fscanf(pipe.get(), "%lf", &value) == 1) values.push_back(value);
  return values;
}

std::vector<double> plugin_steps(Toolkit& toolkit, const std::string& kind,
                                 const std::vector<std::pair<std::string, double>>& settings) {
  auto w1 = torch::tensor({{0.5, -0.3}, {0.8, 0.1}}, torch::kFloat64).requires_grad_();
  auto w2 = torch::tensor({0.2, -0.7, 0.4}, torch::kFloat64).requires_grad_();
  ft::Params params("optimizer");
  for (const auto& [key, value] : settings) params.set(key, ft::to_param_value(value));
  if (kind == "rmsprop") params.set("centered", ft::to_param_value(true));
  auto optimizer = toolkit.catalog.make_optimizer(kind, params, {{{"all", {w1, w2}, 1.0}}, toolkit.log});
  for (int k = 0; k < 5; ++k) {
    optimizer->zero_grad();
    const auto a = torch::tensor({{1.0, -2.0}, {0.5, 3.0}}, torch::kFloat64) * (1 + 0.1 * k);
    const auto loss = (a * w1.pow(3)).sum() + ((w2 - torch::tensor({1.0, 0.0, -1.0}, torch::kFloat64)).pow(2) *
                                               torch::tensor({2.0, 1.0, 0.5}, torch::kFloat64))
                                                  .sum();
    loss.backward();
    optimizer->step();
  }
  const auto flat = torch::cat({w1.detach().flatten(), w2.detach().flatten()});
  return std::vector<double>(flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel());
}

}  // namespace

TEST_CASE("adam, adamw (fused), rmsprop, adagrad, lamb and lion step as their references do", "[toolkit][optimizers]") {
  Toolkit toolkit;
  for (const char* library : {"ft_adam", "ft_adamw", "ft_rmsprop", "ft_adagrad", "ft_lamb", "ft_lion"}) {
    toolkit.catalog.load_file(std::string(FT_PLUGIN_DIR) + "/" + library + ".so");
  }
  const std::vector<std::pair<std::string, std::vector<std::pair<std::string, double>>>> cases{
      {"adam", {{"lr", 0.01}, {"weight_decay", 0.1}}},
      {"adamw", {{"lr", 0.01}, {"weight_decay", 0.1}}},
      {"rmsprop", {{"lr", 0.01}, {"momentum", 0.9}, {"weight_decay", 0.1}}},
      {"adagrad", {{"lr", 0.1}, {"lr_decay", 0.01}, {"weight_decay", 0.1}, {"initial_accumulator_value", 0.1}}},
      {"lamb", {{"lr", 0.01}, {"weight_decay", 0.01}, {"max_grad_norm", 1.0}}},
      {"lion", {{"lr", 0.01}, {"weight_decay", 0.1}}}};
  for (const auto& [kind, settings] : cases) {
    INFO(kind);
    const auto expected = reference_steps(kind, settings);
    const auto got = plugin_steps(toolkit, kind, settings);
    REQUIRE(expected.size() == 7);
    REQUIRE(got.size() == 7);
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == Approx(expected[i]).epsilon(1e-9).margin(1e-12));
    // Something moved: the comparison is not between two untouched starts.
    CHECK(got[0] != 0.5);
  }
}

TEST_CASE("the cosine head's logits are scale times the cosine of features and class weights", "[toolkit][cosine]") {
  Toolkit toolkit;
  toolkit.catalog.load_file(std::string(FT_PLUGIN_DIR) + "/ft_cosine_head.so");
  ft::Params params("head");
  params.set("scale", ft::to_param_value(10.0));
  auto head = toolkit.catalog.make_head("cosine", params, {6, 4, toolkit.log});
  const auto features = torch::randn({3, 6}) * 5;  // the feature norm must not matter
  const auto weight = head->named_parameters()["weight"];
  const auto expected = 10.0 * torch::cosine_similarity(features.unsqueeze(1), weight.unsqueeze(0), 2);
  CHECK(torch::allclose(head->forward(features), expected, 1e-5, 1e-6));
  CHECK(torch::allclose(head->forward(features * 7), expected, 1e-5, 1e-6));
}
