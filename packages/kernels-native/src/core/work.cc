#include "core/work.h"

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/registry.h"

namespace ternion {
namespace {

// A recorded sequence of kernel calls and references to every buffer they touch.
struct ProgramData {
  std::vector<Work> steps;
  std::vector<std::string> names;  // (steps) the JS name of each recorded kernel
  std::vector<Napi::ObjectReference> refs;
  bool running = false;  // an async run is in flight: a second run would race on the same buffers
  // Profiling (set and read on the JS thread while no run is in flight): seconds per step over `runs` runs.
  bool profiling = false;
  std::vector<double> seconds;  // (steps)
  double runs = 0;

  void execute() {
    if (!profiling) {
      for (const Work& w : steps) w();
      return;
    }
    if (seconds.size() != steps.size()) seconds.assign(steps.size(), 0.0);
    auto t = std::chrono::steady_clock::now();
    for (size_t i = 0; i < steps.size(); i++) {
      steps[i]();
      const auto now = std::chrono::steady_clock::now();
      seconds[i] += std::chrono::duration<double>(now - t).count();
      t = now;
    }
    runs += 1;
  }
};

// The recording in progress (one per addon instance; recording is a JS-thread-only activity).
struct RecordState {
  std::unique_ptr<ProgramData> current;
};
RecordState& record_state() {
  static RecordState s;
  return s;
}

void keep_args(const Napi::CallbackInfo& info, std::vector<Napi::ObjectReference>* refs) {
  for (size_t i = 0; i < info.Length(); i++) {
    if (info[i].IsObject()) refs->push_back(Napi::Persistent(info[i].As<Napi::Object>()));
  }
}

// Runs Work on a libuv thread; holds references to every argument so the garbage collector cannot free a
// buffer the kernel is reading or writing.
class KernelWorker : public Napi::AsyncWorker {
 public:
  KernelWorker(Napi::Env env, std::vector<Work> steps, std::vector<Napi::ObjectReference> refs,
               std::shared_ptr<ProgramData> program)
      : Napi::AsyncWorker(env, "ternion:kernel"),
        steps_(std::move(steps)),
        refs_(std::move(refs)),
        program_(std::move(program)),
        deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      if (program_) {
        program_->execute();
      } else {
        for (const Work& w : steps_) w();
      }
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override {
    if (program_) program_->running = false;
    deferred_.Resolve(Env().Undefined());
  }
  void OnError(const Napi::Error& e) override {
    if (program_) program_->running = false;
    deferred_.Reject(e.Value());
  }

 private:
  std::vector<Work> steps_;
  std::vector<Napi::ObjectReference> refs_;
  std::shared_ptr<ProgramData> program_;
  Napi::Promise::Deferred deferred_;
};

struct KernelData {
  PrepareFn prepare;
  std::string name;
};

Napi::Value run_sync(const Napi::CallbackInfo& info) {
  auto* data = static_cast<KernelData*>(info.Data());
  Work work = data->prepare(info);
  if (RecordState& rs = record_state(); rs.current) {
    rs.current->steps.push_back(std::move(work));
    rs.current->names.push_back(data->name);
    keep_args(info, &rs.current->refs);
  } else {
    work();
  }
  return info.Env().Undefined();
}

Napi::Value run_async(const Napi::CallbackInfo& info) {
  auto* data = static_cast<KernelData*>(info.Data());
  Work work = data->prepare(info);  // validation errors throw synchronously, before any work is queued
  std::vector<Work> steps;
  steps.push_back(std::move(work));
  std::vector<Napi::ObjectReference> refs;
  keep_args(info, &refs);
  auto* worker = new KernelWorker(info.Env(), std::move(steps), std::move(refs), nullptr);
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

// --- Program objects --------------------------------------------------------------------------------

class Program : public Napi::ObjectWrap<Program> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Program",
                       {InstanceMethod("run", &Program::Run), InstanceMethod("runAsync", &Program::RunAsync),
                        InstanceMethod("setProfiling", &Program::SetProfiling),
                        InstanceMethod("profile", &Program::Profile),
                        InstanceMethod("resetProfile", &Program::ResetProfile),
                        InstanceAccessor("length", &Program::Length, nullptr)});
  }
  explicit Program(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Program>(info) {}
  std::shared_ptr<ProgramData> data;

 private:
  void check_idle(Napi::Env env) {
    if (!data) throw Napi::Error::New(env, "Program: empty (create programs with recordEnd())");
    if (data->running) throw Napi::Error::New(env, "Program: already running (await the previous runAsync())");
  }
  Napi::Value Run(const Napi::CallbackInfo& info) {
    check_idle(info.Env());
    data->execute();
    return info.Env().Undefined();
  }
  Napi::Value SetProfiling(const Napi::CallbackInfo& info) {
    check_idle(info.Env());
    if (info.Length() < 1 || !info[0].IsBoolean()) {
      throw Napi::TypeError::New(info.Env(), "setProfiling: argument 0 (on) must be a boolean");
    }
    data->profiling = info[0].As<Napi::Boolean>().Value();
    return info.Env().Undefined();
  }
  // { runs, calls: [{ kernel, seconds }] } in recording order, summed over the profiled runs.
  Napi::Value Profile(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    check_idle(env);
    Napi::Array calls = Napi::Array::New(env, data->steps.size());
    for (size_t i = 0; i < data->steps.size(); i++) {
      Napi::Object c = Napi::Object::New(env);
      c.Set("kernel", data->names[i]);
      c.Set("seconds", i < data->seconds.size() ? data->seconds[i] : 0.0);
      calls.Set(static_cast<uint32_t>(i), c);
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("runs", data->runs);
    out.Set("calls", calls);
    return out;
  }
  Napi::Value ResetProfile(const Napi::CallbackInfo& info) {
    check_idle(info.Env());
    data->seconds.assign(data->steps.size(), 0.0);
    data->runs = 0;
    return info.Env().Undefined();
  }
  Napi::Value RunAsync(const Napi::CallbackInfo& info) {
    check_idle(info.Env());
    data->running = true;
    std::vector<Napi::ObjectReference> refs;
    refs.push_back(Napi::Persistent(Value()));  // keeps this Program (and so its buffers) alive
    auto* worker = new KernelWorker(info.Env(), {}, std::move(refs), data);
    Napi::Promise promise = worker->promise();
    worker->Queue();
    return promise;
  }
  Napi::Value Length(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), data ? static_cast<double>(data->steps.size()) : 0);
  }
};

struct ProgramClass {
  Napi::FunctionReference ctor;
};

Napi::Value RecordBeginJs(const Napi::CallbackInfo& info) {
  RecordState& rs = record_state();
  if (rs.current) throw Napi::Error::New(info.Env(), "recordBegin: a recording is already open (call recordEnd())");
  rs.current = std::make_unique<ProgramData>();
  return info.Env().Undefined();
}

Napi::Value RecordEndJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RecordState& rs = record_state();
  if (!rs.current) throw Napi::Error::New(env, "recordEnd: no recording is open (call recordBegin() first)");
  std::shared_ptr<ProgramData> data(rs.current.release());
  auto* cls = env.GetInstanceData<ProgramClass>();
  Napi::Object obj = cls->ctor.New({});
  Program::Unwrap(obj)->data = std::move(data);
  return obj;
}

Napi::Value RecordAbortJs(const Napi::CallbackInfo& info) {
  record_state().current.reset();
  return info.Env().Undefined();
}

void Init(Napi::Env env, Napi::Object exports) {
  auto* cls = new ProgramClass{Napi::Persistent(Program::Define(env))};
  env.SetInstanceData<ProgramClass>(cls);
  exports.Set("recordBegin", Napi::Function::New(env, RecordBeginJs, "recordBegin"));
  exports.Set("recordEnd", Napi::Function::New(env, RecordEndJs, "recordEnd"));
  exports.Set("recordAbort", Napi::Function::New(env, RecordAbortJs, "recordAbort"));
}

}  // namespace

void export_kernel(Napi::Env env, Napi::Object exports, const char* name, PrepareFn prepare) {
  auto* data = new KernelData{prepare, name};
  env.AddCleanupHook([data] { delete data; });
  exports.Set(name, Napi::Function::New(env, run_sync, name, data));
  const std::string async_name = std::string(name) + "Async";
  exports.Set(async_name, Napi::Function::New(env, run_async, async_name, data));
}

}  // namespace ternion

TERNION_MODULE(program, ternion::Init);
