#pragma once
// How many CPU threads a run computes with by default, without LibTorch (model/device.h sets them).

namespace ft {

/// Physical cores (hyper-threads counted once) among the CPUs this process may run on (its affinity mask, which
/// Slurm, taskset and a container's cpuset set); at least 1.
int physical_core_count();

/// The compute threads of one of `local_processes` processes sharing this machine when the experiment leaves
/// experiment.threads at 0: OMP_NUM_THREADS when it holds a positive number (the variable batch schedulers, torchrun
/// and PyTorch itself go by), else this process's share of physical_core_count(); at least 1.
int default_thread_count(int local_processes = 1);

}  // namespace ft
