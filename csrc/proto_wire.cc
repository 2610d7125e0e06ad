#include "proto_wire.h"

#include "errors.h"

namespace tfbundle {
namespace wire {

void throw_malformed(const char* what, const char* problem) {
  throw DataLoss(std::string("malformed ") + what + ": " + problem);
}

}  // namespace wire
}  // namespace tfbundle
