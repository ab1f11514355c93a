#include "core/work.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ternion {
namespace {

// Runs a prepared Work on a libuv thread; holds references to every argument so the garbage collector
// cannot free a buffer the kernel is reading or writing.
class KernelWorker : public Napi::AsyncWorker {
 public:
  KernelWorker(Napi::Env env, Work work, const Napi::CallbackInfo& info)
      : Napi::AsyncWorker(env, "ternion:kernel"), work_(std::move(work)), deferred_(Napi::Promise::Deferred::New(env)) {
    for (size_t i = 0; i < info.Length(); i++) {
      if (info[i].IsObject()) refs_.push_back(Napi::Persistent(info[i].As<Napi::Object>()));
    }
  }
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      work_();
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Work work_;
  Napi::Promise::Deferred deferred_;
  std::vector<Napi::ObjectReference> refs_;
};

struct KernelData {
  PrepareFn prepare;
};

Napi::Value run_sync(const Napi::CallbackInfo& info) {
  auto* data = static_cast<KernelData*>(info.Data());
  Work work = data->prepare(info);
  work();
  return info.Env().Undefined();
}

Napi::Value run_async(const Napi::CallbackInfo& info) {
  auto* data = static_cast<KernelData*>(info.Data());
  Work work = data->prepare(info);  // validation errors throw synchronously, before any work is queued
  auto* worker = new KernelWorker(info.Env(), std::move(work), info);
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

}  // namespace

void export_kernel(Napi::Env env, Napi::Object exports, const char* name, PrepareFn prepare) {
  auto* data = new KernelData{prepare};
  env.AddCleanupHook([data] { delete data; });
  exports.Set(name, Napi::Function::New(env, run_sync, name, data));
  const std::string async_name = std::string(name) + "Async";
  exports.Set(async_name, Napi::Function::New(env, run_async, async_name, data));
}

}  // namespace ternion
