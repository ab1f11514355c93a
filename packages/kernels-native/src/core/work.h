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

// Recording: between recordBegin() and recordEnd(), the plain `name(...)` functions validate their arguments
// and append their Work to a Program instead of running it. Program.run() / Program.runAsync() then execute
// the whole sequence in one call (one N-API crossing, one hop off the JS thread for a full forward pass).
// A program can be replayed: Work must capture pointers and shapes, and read per-step values (token ids,
// positions, block tables, sequence lengths) from their buffers when it runs, not when it is recorded.
using PrepareFn = Work (*)(const Napi::CallbackInfo& info);

void export_kernel(Napi::Env env, Napi::Object exports, const char* name, PrepareFn prepare);

}  // namespace ternion
