// ftrun's FCOS detector part (feature pyramid, heads, losses) and its evaluation (post-processing and COCO mAP) on
// the inputs and weights bench/detection_speed.py writes, timed; that script times torchvision and pycocotools on
// the same and prints the ratios. Prints one JSON line.
//   ftrun_detection_bench DIR ITERATIONS THREADS [DEVICE]     DEVICE: cpu (default) or cuda
#include "coco_evaluation.h"
#include "fcos.h"
#include "model/checkpoint.h"

#include <torch/cuda.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

c10::Device device = c10::kCPU;

// Milliseconds since `start`, once the device has finished what was queued.
double milliseconds_since(std::chrono::steady_clock::time_point start) {
  if (device.is_cuda()) torch::cuda::synchronize();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

void load_into(torch::nn::Module& module, const std::string& prefix, const ft::TensorMap& weights) {
  torch::NoGradGuard no_grad;
  for (auto& parameter : module.named_parameters()) parameter.value().copy_(weights.at(prefix + parameter.key()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr, "usage: ftrun_detection_bench DIR ITERATIONS THREADS [cpu|cuda]\n");
    return 2;
  }
  if (argc == 5) device = c10::Device(argv[4]);
  const std::string dir = argv[1];
  const int iterations = std::atoi(argv[2]);
  at::set_num_threads(std::atoi(argv[3]));
  const auto weights = ft::load_tensors(dir + "/weights.safetensors");
  const auto inputs = ft::load_tensors(dir + "/inputs.safetensors");
  const std::int64_t classes = inputs.at("classes").item<std::int64_t>();
  const std::int64_t side = inputs.at("side").item<std::int64_t>();

  ft_plugins::fcos::FeaturePyramid pyramid_network({512, 1024, 2048}, 256);
  ft_plugins::fcos::Head head(256, classes);
  load_into(pyramid_network, "fpn.", weights);
  load_into(head, "head.", weights);
  pyramid_network.to(device);
  head.to(device);
  const std::vector<torch::Tensor> features{inputs.at("features.0").to(device), inputs.at("features.1").to(device),
                                            inputs.at("features.2").to(device)};
  const auto images = features[0].size(0);
  std::vector<ft_plugins::fcos::Targets> targets;
  for (std::int64_t i = 0; i < images; ++i) {
    targets.push_back(
        {inputs.at("targets." + std::to_string(i) + ".boxes"), inputs.at("targets." + std::to_string(i) + ".labels")});
  }
  std::vector<torch::Tensor> parameters = pyramid_network.parameters();
  for (const auto& parameter : head.parameters()) parameters.push_back(parameter);
  torch::optim::SGD optimizer(parameters, torch::optim::SGDOptions(0.01).momentum(0.9));

  // A training step: forward, losses, backward, SGD update.
  auto train_step = [&] {
    optimizer.zero_grad();
    const auto pyramid = pyramid_network.forward(features);
    const auto outputs = head.forward(pyramid);
    const auto anchors = ft_plugins::fcos::anchors(pyramid, side, side);
    ft_plugins::fcos::losses(outputs, anchors, targets).total().backward();
    optimizer.step();
  };
  train_step();  // warm-up
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) train_step();
  const double train_ms = milliseconds_since(start) / iterations;

  // Evaluation: forward, post-processing (detections), COCO mAP over the batch; each timed apart.
  std::vector<std::int64_t> image_ids, category_ids;
  std::vector<ft_plugins::GroundTruthBox> objects;
  for (std::int64_t i = 0; i < images; ++i) {
    image_ids.push_back(i + 1);
    const auto boxes = targets[i].boxes.cpu();
    const auto labels = targets[i].labels.cpu();
    for (std::int64_t k = 0; k < boxes.size(0); ++k) {
      const double x1 = boxes[k][0].item<double>(), y1 = boxes[k][1].item<double>();
      const double w = boxes[k][2].item<double>() - x1, h = boxes[k][3].item<double>() - y1;
      objects.push_back({static_cast<std::int64_t>(objects.size() + 1),
                         i + 1,
                         labels[k].item<std::int64_t>() + 1,
                         {x1, y1, w, h},
                         w * h,
                         false});
    }
  }
  for (std::int64_t c = 1; c <= classes; ++c) category_ids.push_back(c);
  torch::NoGradGuard no_grad;
  double forward_ms = 0, detect_ms = 0, map_ms = 0, ap = 0;
  std::size_t detection_count = 0;
  for (int iteration = -1; iteration < iterations; ++iteration) {  // the first one warms up
    start = std::chrono::steady_clock::now();
    const auto pyramid = pyramid_network.forward(features);
    const auto outputs = head.forward(pyramid);
    const auto anchors = ft_plugins::fcos::anchors(pyramid, side, side);
    const double forwarded = milliseconds_since(start);
    start = std::chrono::steady_clock::now();
    const auto detections = ft_plugins::fcos::detect(
        outputs, anchors, std::vector<std::pair<std::int64_t, std::int64_t>>(images, {side, side}));
    const double detected = milliseconds_since(start);
    start = std::chrono::steady_clock::now();
    std::vector<ft_plugins::Detection> results;
    for (std::int64_t i = 0; i < images; ++i) {
      const auto boxes = detections[i].boxes.cpu().contiguous(), scores = detections[i].scores.cpu();
      const auto labels = detections[i].labels.cpu();
      const auto b = boxes.accessor<float, 2>();
      const auto s = scores.accessor<float, 1>();
      const auto l = labels.accessor<std::int64_t, 1>();
      for (std::int64_t k = 0; k < boxes.size(0); ++k) {
        results.push_back({i + 1, l[k] + 1, {b[k][0], b[k][1], b[k][2] - b[k][0], b[k][3] - b[k][1]}, s[k]});
      }
    }
    ap = ft_plugins::evaluate_boxes(image_ids, category_ids, objects, results).ap;
    if (iteration >= 0) {
      forward_ms += forwarded / iterations;
      detect_ms += detected / iterations;
      map_ms += milliseconds_since(start) / iterations;
    }
    detection_count = results.size();
  }
  std::printf(
      "{\"train_step_ms\": %.2f, \"forward_ms\": %.2f, \"detect_ms\": %.3f, \"map_ms\": %.3f, \"detections\": %zu, "
      "\"ap\": %.6f}\n",
      train_ms, forward_ms, detect_ms, map_ms, detection_count, ap);
  return 0;
}
