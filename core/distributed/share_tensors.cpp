#include "distributed/share_tensors.h"

#include <ftsdk/error.h>

#include <torch/torch.h>

#include <sstream>

namespace ft {

TensorMap share_tensors(ProcessGroup& group, const TensorMap* tensors) {
  // First the manifest (name, dtype, shape per line), then the data, tensor by tensor, on the group's device.
  std::string manifest;
  if (group.leader()) {
    for (const auto& [name, tensor] : *tensors) {
      manifest += name + "\t" + std::to_string(static_cast<int>(tensor.scalar_type()));
      for (auto size : tensor.sizes()) manifest += "\t" + std::to_string(size);
      manifest += "\n";
    }
  }
  manifest = group.share_text("tensors", manifest);
  TensorMap out;
  std::istringstream lines(manifest);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string name, field;
    std::getline(fields, name, '\t');
    std::getline(fields, field, '\t');
    const auto dtype = static_cast<c10::ScalarType>(std::stoi(field));
    std::vector<std::int64_t> sizes;
    while (std::getline(fields, field, '\t')) sizes.push_back(std::stoll(field));
    const auto options = torch::TensorOptions().dtype(dtype).device(group.device());
    torch::Tensor tensor =
        group.leader() ? tensors->at(name).to(group.device()).contiguous() : torch::empty(sizes, options);
    group.broadcast({tensor});
    out[name] = tensor.cpu();
  }
  return out;
}

}  // namespace ft
