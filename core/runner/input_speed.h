#pragma once
// Times an experiment's input pipeline alone: the training split read as training reads it (loader threads, the
// data order, decode-time random crops, the core's augmentation and normalisation), with no model. Answers "is my
// data the bottleneck?", and is how bench/decode.py measures image decoding against torchvision's DataLoader.

#include "config/experiment.h"

#include <cstdint>
#include <vector>

namespace ft {

class PluginCatalog;

struct EpochInputSpeed {
  std::int64_t images = 0;
  double seconds = 0;
};

/// Builds `run`'s dataset (plugins already loaded into `catalog`) and reads its training split `epochs` times on
/// the CPU; returns each epoch's images and seconds.
std::vector<EpochInputSpeed> measure_input_speed(PluginCatalog& catalog, const RunConfig& run, std::int64_t epochs);

}  // namespace ft
