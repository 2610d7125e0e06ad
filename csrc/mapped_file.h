// A read-only file: memory-mapped when possible, read with pread otherwise.
// Shared through std::shared_ptr so that zero-copy views outlive the reader
// that created them; the mapping is released with the last owner.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace tfbundle {

class MappedFile {
 public:
  // Opens `path`. Throws FileMissing if it does not exist, IoError otherwise.
  // With TFBUNDLE_NO_MMAP=1 in the environment the file is never mapped.
  static std::shared_ptr<MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  bool mapped() const { return data_ != nullptr; }
  // The whole file; only when mapped().
  std::string_view bytes() const { return {static_cast<const char*>(data_), static_cast<size_t>(size_)}; }

  // Copies [offset, offset + n) into dst. REQUIRES: offset + n <= size().
  // Works whether or not the file is mapped. Throws IoError/DataLoss.
  void read(uint64_t offset, size_t n, void* dst) const;

  // Copies [offset, offset + n) into dst with pread, even when mapped: a
  // kernel copy from the page cache skips faulting the mapping in.
  void pread_into(uint64_t offset, size_t n, void* dst) const;

 private:
  MappedFile(std::string path, int fd, uint64_t size, void* data)
      : path_(std::move(path)), fd_(fd), size_(size), data_(data) {}

  std::string path_;
  int fd_;
  uint64_t size_;
  void* data_;  // nullptr when not mapped
};

}  // namespace tfbundle
