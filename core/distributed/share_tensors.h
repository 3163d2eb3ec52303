#pragma once
// Hands a set of named tensors (a resumed run's training state) from rank 0 to every process, so no process
// but rank 0 needs to read the checkpoint: the other nodes need no shared filesystem.

#include "distributed/process_group.h"
#include "model/checkpoint.h"

namespace ft {

/// Rank 0 passes its tensors, the others nullptr; every process returns rank 0's tensors (on the CPU).
TensorMap share_tensors(ProcessGroup& group, const TensorMap* tensors);

}  // namespace ft
