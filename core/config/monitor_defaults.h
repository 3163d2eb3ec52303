#pragma once
// What picks a run's best epoch when its experiment does not say (train.monitor, train.monitor_mode). One spelling
// for the configuration's defaults, the store's SQL that keeps each run's best epoch (run_results), and the reports
// that judge runs recorded before defaults were stored.

namespace ft {

inline constexpr const char* kDefaultMonitor = "val_loss";
inline constexpr const char* kDefaultMonitorMode = "auto";

}  // namespace ft
