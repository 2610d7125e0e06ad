#include "tensor_strings.h"

#include "coding.h"
#include "crc32c.h"
#include "errors.h"

namespace tfbundle {

namespace {

uint32_t extend_fixed_length(uint32_t crc, uint64_t length, bool big_endian) {
  if (length > 0xffffffffu) {
    uint64_t v = big_endian ? __builtin_bswap64(length) : length;
    return crc32c::extend(crc, &v, 8);
  }
  uint32_t v = static_cast<uint32_t>(length);
  if (big_endian) v = __builtin_bswap32(v);
  return crc32c::extend(crc, &v, 4);
}

}  // namespace

DecodedStrings decode_strings(std::string_view payload, int64_t n, bool big_endian, bool compute_crc) {
  // Each element takes at least one length byte, so n is bounded by the payload.
  if (n < 0 || static_cast<uint64_t>(n) > payload.size()) {
    throw DataLoss("string tensor of " + std::to_string(n) + " elements cannot fit in " +
                   std::to_string(payload.size()) + " bytes");
  }
  DecodedStrings out;
  std::vector<uint64_t> lengths(static_cast<size_t>(n));
  std::string_view rest = payload;
  uint64_t total = 0;
  uint32_t lengths_crc = 0;
  for (auto& length : lengths) {
    if (!get_varint64(&rest, &length)) throw DataLoss("string tensor has a truncated length");
    if (length > payload.size()) throw DataLoss("string tensor element is longer than its payload");
    total += length;
    lengths_crc = extend_fixed_length(lengths_crc, length, big_endian);
  }
  uint32_t stored_l;
  if (!get_fixed32(&rest, &stored_l)) throw DataLoss("string tensor is missing its lengths checksum");
  const char* stored_l_bytes = rest.data() - 4;
  if (big_endian) stored_l = __builtin_bswap32(stored_l);
  if (crc32c::unmask(stored_l) != lengths_crc) throw DataLoss("string tensor lengths checksum mismatch");
  if (total != rest.size()) {
    throw DataLoss("string tensor lengths add up to " + std::to_string(total) + " bytes but " +
                   std::to_string(rest.size()) + " remain");
  }
  out.items.reserve(lengths.size());
  for (uint64_t length : lengths) {
    out.items.push_back(rest.substr(0, static_cast<size_t>(length)));
    rest.remove_prefix(static_cast<size_t>(length));
  }
  if (compute_crc) {
    uint32_t crc = crc32c::extend(lengths_crc, stored_l_bytes, 4);
    out.crc = crc32c::extend(crc, stored_l_bytes + 4, static_cast<size_t>(total));
  }
  return out;
}

std::string encode_strings(const std::vector<std::string_view>& items, uint32_t* crc) {
  std::string out;
  size_t total = 0;
  for (auto s : items) total += s.size();
  out.reserve(items.size() * 2 + 4 + total);
  uint32_t lengths_crc = 0;
  for (auto s : items) {
    put_varint64(&out, s.size());
    lengths_crc = extend_fixed_length(lengths_crc, s.size(), false);
  }
  const uint32_t stored_l = crc32c::mask(lengths_crc);
  put_fixed32(&out, stored_l);
  for (auto s : items) out.append(s.data(), s.size());
  const size_t data_start = out.size() - total - 4;
  *crc = crc32c::extend(lengths_crc, out.data() + data_start, total + 4);
  return out;
}

DecodedStrings decode_variants(std::string_view payload, int64_t n) {
  if (n < 0 || static_cast<uint64_t>(n) > payload.size() / 5) {
    throw DataLoss("variant tensor of " + std::to_string(n) + " elements cannot fit in " +
                   std::to_string(payload.size()) + " bytes");
  }
  DecodedStrings out;
  out.items.reserve(static_cast<size_t>(n));
  std::string_view rest = payload;
  uint32_t crc = 0;
  for (int64_t i = 0; i < n; i++) {
    uint64_t length;
    if (!get_varint64(&rest, &length)) throw DataLoss("variant tensor has a truncated length");
    if (length > rest.size()) throw DataLoss("variant tensor element runs past its payload");
    crc = crc32c::extend(crc, &length, 8);
    std::string_view element = rest.substr(0, static_cast<size_t>(length));
    rest.remove_prefix(static_cast<size_t>(length));
    crc = crc32c::extend(crc, element.data(), element.size());
    uint32_t stored;
    if (!get_fixed32(&rest, &stored)) throw DataLoss("variant tensor element is missing its checksum");
    if (stored != crc32c::mask(crc)) throw DataLoss("variant tensor element checksum mismatch");
    crc = crc32c::extend(crc, &stored, 4);
    out.items.push_back(element);
  }
  if (!rest.empty()) throw DataLoss("variant tensor has trailing bytes");
  out.crc = crc;
  return out;
}

}  // namespace tfbundle
