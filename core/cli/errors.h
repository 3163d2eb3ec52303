#pragma once
// The exit code each kind of error gives, shared by the front end and the training library.

namespace ft {

/// Logs the exception being handled and returns its exit code (docs/cli.md): call it inside a catch block.
int report_current_exception();

}  // namespace ft
