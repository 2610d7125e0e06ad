// Raw Snappy decompression (the block format TensorFlow's tables use for
// type-1 blocks; no framing format). Written here rather than linked: no
// package index ships the snappy C++ library in a form a `pip install` on a
// fresh machine can build against, and reading needs only the decoder.
//
// Stream = varint32 uncompressed length, then elements, each led by a tag
// byte whose low 2 bits give its kind:
//   00 literal:  length-1 in tag>>2 (0..59), or in the next 1..4 bytes (LE)
//                when tag>>2 is 60..63; then the literal bytes.
//   01 copy:     length 4 + ((tag>>2) & 7), offset ((tag>>5) << 8) | next byte
//   10 copy:     length 1 + (tag>>2), offset = next 2 bytes (LE)
//   11 copy:     length 1 + (tag>>2), offset = next 4 bytes (LE)
// A copy repeats `length` bytes starting `offset` bytes back in the output
// (it may overlap what it writes). Every length and offset is checked
// against the input and output before use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tfbundle::snappy {

// The most output one input byte can yield: a 3-byte copy of 64 bytes.
// A declared length above input size × this cannot be honest.
constexpr uint64_t kMaxExpansion = 22;

// The declared uncompressed length, after checking that the input could
// produce it. Throws DataLoss(what + problem) otherwise.
size_t uncompressed_length(std::string_view compressed, const std::string& what);

// Decompresses into out[0, n), n being uncompressed_length(). Throws
// DataLoss(what + problem) on any malformed element or when the output does
// not come out exactly n bytes long.
void decompress(std::string_view compressed, char* out, size_t n, const std::string& what);

// Both steps; for tests and the fuzz target.
std::string decompress(std::string_view compressed, const std::string& what);

}  // namespace tfbundle::snappy
