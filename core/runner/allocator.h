#pragma once
// How the process's memory allocator is set up for training.

namespace ft {

/// Keeps freed large blocks (batches, decoded images, activations) for reuse instead of handing them back to the
/// kernel. glibc's default maps every block above a threshold afresh and unmaps it when freed, so each batch
/// costs page faults that zero its pages again: 38 % of the input pipeline's time was in the kernel
/// (docs/performance.md). Left alone when the user tuned malloc through its environment variables.
void tune_allocator();

}  // namespace ft
