// Runs a kernel call now or off the JS thread.
//
// A binding validates its arguments on the JS thread and returns a Work closure that touches only raw
// pointers (never a JS value). export_kernel() then publishes two functions:
//   name(...)       runs the closure on the calling thread and returns undefined;
//   nameAsync(...)  runs it on a libuv worker and returns a Promise; the argument buffers are kept alive
//                   until it settles (do not detach or transfer them meanwhile).
#pragma once

#include <napi.h>

#include <functional>

namespace ternion {

using Work = std::function<void()>;
using PrepareFn = Work (*)(const Napi::CallbackInfo& info);

void export_kernel(Napi::Env env, Napi::Object exports, const char* name, PrepareFn prepare);

}  // namespace ternion
