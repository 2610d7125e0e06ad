// Exception types thrown by the core. The bindings map each one to a Python
// exception (see bindings.cc); nothing in the core knows about Python.
#pragma once

#include <stdexcept>
#include <string>

namespace tfbundle {

// The bytes of a file are damaged or not in the expected format.
// Python: tfbundle.DataLossError (a ValueError).
class DataLoss : public std::runtime_error {
 public:
  explicit DataLoss(const std::string& what) : std::runtime_error(what) {}
};

// A key that is not in the bundle. Python: tfbundle.NotFoundError (a KeyError).
class NotFound : public std::runtime_error {
 public:
  explicit NotFound(const std::string& what) : std::runtime_error(what) {}
};

// A file that does not exist. Python: FileNotFoundError.
class FileMissing : public std::runtime_error {
 public:
  explicit FileMissing(const std::string& what) : std::runtime_error(what) {}
};

// Any other operating-system failure (permissions, disk full). Python: OSError.
class IoError : public std::runtime_error {
 public:
  IoError(const std::string& what, int err) : std::runtime_error(what), errno_value(err) {}
  int errno_value;
};

// A caller-side mistake: wrong argument, duplicate key, bad slice spec.
// Python: ValueError.
class InvalidArgument : public std::runtime_error {
 public:
  explicit InvalidArgument(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace tfbundle
