#include "proto_wire.h"

#include "errors.h"

namespace tfbundle {
namespace wire {

void throw_malformed(const char* what, const char* problem) {
  throw DataLoss(std::string("malformed ") + what + ": " + problem);
}

bool Cursor::next(Field* field) {
  if (rest_.empty()) return false;
  uint64_t key;
  if (!get_varint64(&rest_, &key)) throw_malformed(what_, "truncated field key");
  const uint64_t number = key >> 3;
  if (number == 0 || number > 0x1fffffff) throw_malformed(what_, "invalid field number");
  field->number = static_cast<uint32_t>(number);
  field->type = static_cast<WireType>(key & 7);
  switch (field->type) {
    case kVarint:
      if (!get_varint64(&rest_, &field->value)) throw_malformed(what_, "truncated varint");
      return true;
    case kFixed64:
      if (rest_.size() < 8) throw_malformed(what_, "truncated fixed64");
      field->value = load_fixed64(rest_.data());
      rest_.remove_prefix(8);
      return true;
    case kFixed32:
      if (rest_.size() < 4) throw_malformed(what_, "truncated fixed32");
      field->value = load_fixed32(rest_.data());
      rest_.remove_prefix(4);
      return true;
    case kLengthDelimited: {
      uint64_t length;
      if (!get_varint64(&rest_, &length)) throw_malformed(what_, "truncated length");
      if (length > rest_.size()) throw_malformed(what_, "length runs past the end of the message");
      field->bytes = rest_.substr(0, static_cast<size_t>(length));
      rest_.remove_prefix(static_cast<size_t>(length));
      return true;
    }
    default:
      throw_malformed(what_, "unsupported wire type (groups are not used by these messages)");
  }
}

}  // namespace wire
}  // namespace tfbundle
