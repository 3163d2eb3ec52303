#pragma once
/// @file
/// The plugin kinds (ftsdk/kind_list.h) with their interfaces.

#include <ftsdk/backbone.h>
#include <ftsdk/dataset.h>
#include <ftsdk/head.h>
#include <ftsdk/kind_list.h>
#include <ftsdk/optimizer.h>
#include <ftsdk/regularization.h>
#include <ftsdk/sampler.h>
#include <ftsdk/task.h>
