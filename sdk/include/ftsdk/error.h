#pragma once
/// @file
/// The one error hierarchy of ftrun. Plugins throw these; the core maps them to exit codes.

#include <stdexcept>
#include <string>

namespace ft {

/// Base of every error ftrun reports. The message is meant for the user: say what was expected, what was
/// found and what to do about it.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An experiment file or a plugin parameter is wrong (syntax, unknown key, wrong type, bad value).
class ConfigError : public Error {
 public:
  using Error::Error;
};

/// A plugin library cannot be loaded, or a component it should provide is missing.
class PluginError : public Error {
 public:
  using Error::Error;
};

/// A dataset or a weights file is missing, truncated or malformed.
class DataError : public Error {
 public:
  using Error::Error;
};

/// The results store cannot be opened, written or read.
class StoreError : public Error {
 public:
  using Error::Error;
};

/// The machine lacks what the work needs: host or device memory for a model or a batch. The message says what
/// was being built or run, how much it asked for and how much there is. (ftsdk 2.1)
class ResourceError : public Error {
 public:
  using Error::Error;
};

}  // namespace ft
