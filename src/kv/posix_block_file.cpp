// BlockFile over pread/pwrite on a temporary file.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "kv/block_file.h"

namespace fm {

namespace {

std::string describe_errno(int error) { return std::strerror(error); }

class PosixBlockFile final : public BlockFile {
 public:
  PosixBlockFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixBlockFile() override {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  PosixBlockFile(const PosixBlockFile&) = delete;
  PosixBlockFile& operator=(const PosixBlockFile&) = delete;

  Status write_at(int64_t offset, const void* src, int64_t bytes) override {
    const auto* p = static_cast<const uint8_t*>(src);
    int64_t done = 0;
    while (done < bytes) {
      const ssize_t n = ::pwrite(fd_, p + done, (size_t)(bytes - done), (off_t)(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const std::string why = n < 0 ? describe_errno(errno) : "no progress";
        return Status::error(path_ + ": write of " + std::to_string(bytes) + " bytes at offset " +
                             std::to_string(offset) + " failed after " + std::to_string(done) +
                             " bytes: " + why);
      }
      done += n;
    }
    return Status::ok();
  }

  Status read_at(int64_t offset, void* dst, int64_t bytes) const override {
    auto* p = static_cast<uint8_t*>(dst);
    int64_t done = 0;
    while (done < bytes) {
      const ssize_t n = ::pread(fd_, p + done, (size_t)(bytes - done), (off_t)(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        return Status::error(path_ + ": read of " + std::to_string(bytes) + " bytes at offset " +
                             std::to_string(offset) + " failed: " + describe_errno(errno));
      }
      if (n == 0) {
        return Status::error(path_ + ": file ends at offset " + std::to_string(offset + done) +
                             ", inside a read of " + std::to_string(bytes) + " bytes at offset " +
                             std::to_string(offset) + " (truncated)");
      }
      done += n;
    }
    return Status::ok();
  }

  const std::string& path() const override { return path_; }

 private:
  int fd_;
  std::string path_;
};

}  // namespace

Result<std::unique_ptr<BlockFile>> create_temporary_block_file(const std::string& directory) {
  std::string name = (directory.empty() ? std::string(".") : directory) + "/flashmem-kv-XXXXXX";
  std::vector<char> buffer(name.begin(), name.end());
  buffer.push_back('\0');
  const int fd = ::mkostemp(buffer.data(), O_CLOEXEC);
  if (fd < 0) {
    return Status::error("cannot create a KV spill file in '" + directory +
                         "': " + describe_errno(errno));
  }
  return std::unique_ptr<BlockFile>(new PosixBlockFile(fd, std::string(buffer.data())));
}

}  // namespace fm
