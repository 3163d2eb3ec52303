#pragma once
// The detection plugin's two components: the `detection` task and the `fcos` head that serves it.

#include <ftsdk/plugin.h>

#include <memory>

namespace ft_plugins {

std::shared_ptr<ft::Task> make_detection_task(const ft::Params& params, const ft::TaskContext& context);
std::shared_ptr<ft::Head> make_fcos_head(const ft::Params& params, const ft::HeadContext& context);

}  // namespace ft_plugins
