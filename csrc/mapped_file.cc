#include "mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "errors.h"

namespace tfbundle {

namespace {

[[noreturn]] void throw_open_error(const std::string& path, int err) {
  if (err == ENOENT) throw FileMissing(path + ": no such file");
  throw IoError(path + ": " + std::strerror(err), err);
}

bool mmap_disabled() {
  const char* v = std::getenv("TFBUNDLE_NO_MMAP");
  return v != nullptr && v[0] != '\0' && v[0] != '0';
}

}  // namespace

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_open_error(path, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw_open_error(path, err);
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw IoError(path + ": is a directory", EISDIR);
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  void* data = nullptr;
  if (size > 0 && !mmap_disabled() && size <= SIZE_MAX) {
    data = ::mmap(nullptr, static_cast<size_t>(size), PROT_READ, MAP_SHARED, fd, 0);
    if (data == MAP_FAILED) data = nullptr;  // fall back to pread
  }
  return std::shared_ptr<MappedFile>(new MappedFile(path, fd, size, data));
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(data_, static_cast<size_t>(size_));
  ::close(fd_);
}

void MappedFile::read(uint64_t offset, size_t n, void* dst) const {
  if (data_ != nullptr) {
    std::memcpy(dst, static_cast<const char*>(data_) + offset, n);
    return;
  }
  pread_into(offset, n, dst);
}

void MappedFile::pread_into(uint64_t offset, size_t n, void* dst) const {
  auto* out = static_cast<char*>(dst);
  while (n > 0) {
    const ssize_t got = ::pread(fd_, out, n, static_cast<off_t>(offset));
    if (got < 0) {
      if (errno == EINTR) continue;
      throw IoError(path_ + ": read failed: " + std::strerror(errno), errno);
    }
    if (got == 0) throw DataLoss(path_ + ": file ended early (was it truncated while open?)");
    out += got;
    offset += static_cast<uint64_t>(got);
    n -= static_cast<size_t>(got);
  }
}

}  // namespace tfbundle
