// The key under which one slice of a partitioned variable is stored
// (TensorFlow's EncodeTensorNameSlice, built on OrderedCode):
//   u(0) ‖ escaped(name) ‖ 00 01 ‖ u(rank) ‖ for each dim: s(start) s(length)
// where u is an increasing unsigned number, s an increasing signed number,
// and a full extent is (0, -1). These keys start with 00, so they sort right
// after the header key.
#pragma once

#include <string>
#include <string_view>

#include "bundle_entry.h"

namespace tfbundle {

std::string encode_slice_key(std::string_view name, const SliceExtents& slice);

// The inverse of encode_slice_key. Throws DataLoss if `key` is not exactly
// the canonical encoding of some (name, slice).
void decode_slice_key(std::string_view key, std::string* name, SliceExtents* slice);

}  // namespace tfbundle
