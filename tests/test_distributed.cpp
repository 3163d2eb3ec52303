// Two ranks of a Gloo process group in one test process (a thread each, on the loopback address): the gradient
// buckets average what each rank computed, and a broadcast gives every rank rank 0's weights.
#include "distributed/gradient_sync.h"
#include "distributed/process_group.h"

#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <unistd.h>
#include <future>

namespace {

ft::LaunchEnvironment rank_of_two(int rank, int port) {
  ft::LaunchEnvironment launch;
  launch.launcher = "test";
  launch.rank = rank;
  launch.world_size = 2;
  launch.local_world_size = 2;
  launch.local_rank = rank;
  launch.master_addr = "127.0.0.1";
  launch.master_port = port;
  return launch;
}

// A port per test process, so concurrent test runs do not meet.
int test_port() { return 30000 + static_cast<int>(::getpid() % 20000); }

// The same weights in every thread: LibTorch's global generator is shared by the threads that play the ranks.
struct Net {
  torch::nn::Linear first{6, 5}, second{5, 3}, unused{2, 2};
  Net() {
    torch::NoGradGuard no_grad;
    double k = 0;
    for (auto& p : parameters()) {
      p.copy_(torch::sin(torch::arange(p.numel(), torch::kFloat32) + (k += 1.0)).view(p.sizes()));
    }
  }
  std::vector<torch::Tensor> parameters() {
    std::vector<torch::Tensor> out = first->parameters();
    for (auto& p : second->parameters()) out.push_back(p);
    for (auto& p : unused->parameters()) out.push_back(p);
    return out;
  }
  torch::Tensor loss(const torch::Tensor& input) { return second->forward(torch::relu(first->forward(input))).sum(); }
};

}  // namespace

TEST_CASE("gradient buckets average each rank's gradients, unused parameters included", "[distributed]") {
  const int port = test_port();
  auto rank = [port](int r) {
    ft::ProcessGroup group(rank_of_two(r, port), std::chrono::seconds(30));
    group.connect(c10::Device(c10::kCPU), "auto", std::chrono::seconds(30));
    Net net;
    auto parameters = net.parameters();
    // Buckets of 32 bytes: several buckets, launched while backward runs.
    ft::GradientSync sync(group, parameters, 32);
    CHECK(sync.bucket_count() == 3);
    const auto input = torch::full({4, 6}, 1.0 + r);
    // Accumulated micro-batch first (not synced), then the armed one.
    net.loss(input).backward();
    sync.arm();
    net.loss(input).backward();
    sync.finish();
    std::vector<torch::Tensor> grads;
    for (auto& p : parameters) grads.push_back(p.grad().clone());
    return grads;
  };
  auto other = std::async(std::launch::async, rank, 1);
  const auto mine = rank(0);
  const auto theirs = other.get();
  // The expected average, computed in one process.
  Net net;
  for (int r = 0; r < 2; ++r) {
    const auto input = torch::full({4, 6}, 1.0 + r);
    (0.5 * net.loss(input)).backward();
    (0.5 * net.loss(input)).backward();
  }
  auto expected = net.parameters();
  expected.resize(expected.size() - 2);  // the unused layer has no gradient
  REQUIRE(mine.size() == expected.size() + 2);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CHECK(torch::allclose(mine[i], expected[i].grad(), 1e-5, 1e-6));
    CHECK(torch::equal(mine[i], theirs[i]));
  }
  // The parameters no rank used get zeros, and nobody waits for them.
  CHECK(mine[expected.size()].abs().sum().item<double>() == 0);
}

TEST_CASE("a broadcast gives every rank rank 0's tensors, and texts travel from rank 0", "[distributed]") {
  const int port = test_port() + 1;
  auto rank = [port](int r) {
    ft::ProcessGroup group(rank_of_two(r, port), std::chrono::seconds(30));
    group.connect(c10::Device(c10::kCPU), "gloo", std::chrono::seconds(30));
    auto weights = torch::full({3, 2}, static_cast<double>(r)).contiguous(at::MemoryFormat::Contiguous);
    group.broadcast({weights});
    const std::string text = group.share_text("greeting", r == 0 ? "from rank 0" : "ignored");
    auto sum = torch::ones({2});
    group.sum(sum);
    return std::make_tuple(weights, text, sum);
  };
  auto other = std::async(std::launch::async, rank, 1);
  const auto [w0, t0, s0] = rank(0);
  const auto [w1, t1, s1] = other.get();
  CHECK(w1.sum().item<double>() == 0);
  CHECK(t1 == "from rank 0");
  CHECK(t0 == "from rank 0");
  CHECK(s1[0].item<double>() == 2);
}
