// mmapFile(path) -> ArrayBuffer over a private, copy-on-write mapping of the whole file. Opening a model is
// then O(1) and memory grows only with the pages a kernel touches; writes from JS never reach the file.
#include <napi.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "core/napi_args.h"
#include "core/registry.h"

#if defined(_WIN32)
#define TERNION_NO_MMAP 1
#else
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace ternion {
namespace {

#ifndef TERNION_NO_MMAP
struct Mapping {
  void* addr;
  size_t bytes;
};

Napi::Value MmapFileJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw_type_error(env, "argument 0 (path): expected a string");
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    Napi::Error e = Napi::Error::New(env, "cannot open '" + path + "': " + std::strerror(err));
    e.Set("code", err == ENOENT ? "ENOENT" : err == EACCES ? "EACCES" : "EIO");
    throw e;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw_type_error(env, "'" + path + "' is not a regular file");
  }
  const size_t bytes = static_cast<size_t>(st.st_size);
  if (bytes == 0) {
    ::close(fd);
    return Napi::ArrayBuffer::New(env, 0);
  }
  void* addr = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  const int err = errno;
  ::close(fd);
  if (addr == MAP_FAILED) throw Napi::Error::New(env, "cannot map '" + path + "': " + std::strerror(err));
  auto* mapping = new Mapping{addr, bytes};
  return Napi::ArrayBuffer::New(
      env, addr, bytes,
      [](Napi::Env, void*, Mapping* m) {
        ::munmap(m->addr, m->bytes);
        delete m;
      },
      mapping);
}
#endif

void Init(Napi::Env env, Napi::Object exports) {
#ifndef TERNION_NO_MMAP
  exports.Set("mmapFile", Napi::Function::New(env, MmapFileJs, "mmapFile"));
#endif
}

}  // namespace
}  // namespace ternion

TERNION_MODULE(mmap, ternion::Init);
