// Payload encodings of variable-length tensors in a bundle's data shard.
//
// DT_STRING, n elements:
//   varint64 len[0..n), L: 4 bytes, bytes of every element
//   L     = mask(crc32c(each len as fixed32, or fixed64 when > 0xffffffff))
//   entry = mask(crc32c(those fixed-width lengths ‖ the 4 bytes of L ‖ bytes))
// Fixed-width lengths and L are in the writer's byte order.
//
// DT_VARIANT, for each element: varint64 len, a serialized
// VariantTensorDataProto, then mask(running crc) as 4 bytes; the running crc
// covers len as fixed64, the bytes and every earlier stored checksum, and the
// entry checksum is mask(final running crc).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tfbundle {

struct DecodedStrings {
  std::vector<std::string_view> items;  // views into the payload
  uint32_t crc = 0;                     // unmasked entry checksum of the payload
};

// Decodes n strings from `payload` (exactly the entry's bytes). Always checks
// structure and the lengths checksum L; computes the entry checksum when
// compute_crc. Throws DataLoss with a message describing the problem.
DecodedStrings decode_strings(std::string_view payload, int64_t n, bool big_endian, bool compute_crc);

// Returns the payload for `items` and sets *crc to its unmasked checksum.
std::string encode_strings(const std::vector<std::string_view>& items, uint32_t* crc);

// Decodes n variant elements; the element checksums are always checked.
DecodedStrings decode_variants(std::string_view payload, int64_t n);

}  // namespace tfbundle
