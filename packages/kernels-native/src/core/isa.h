// CPU feature detection and the ISA level every kernel dispatches on.
#pragma once

namespace ternion {

// Ordered: a higher level implies every lower one is usable.
enum class Isa : int { kGeneric = 0, kAvx2 = 1, kAvx512 = 2 };
constexpr int kNumIsa = 3;

struct CpuFeatures {
  bool x86 = false;
  bool sse42 = false, avx = false, avx2 = false, fma = false, f16c = false, bmi2 = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vnni = false, avx512vbmi = false, avxvnni = false;
  bool os_ymm = false;  // XCR0 says the OS saves YMM state
  bool os_zmm = false;  // XCR0 says the OS saves ZMM/opmask state
};

// Read once (CPUID + XGETBV) and cached.
const CpuFeatures& cpu_features();
// The best level this CPU and OS support.
Isa best_isa();
// The level kernels use now: best_isa(), lowered by TERNION_ISA at load or by set_active_isa().
Isa active_isa();
// Returns false (and changes nothing) if `isa` is above best_isa().
bool set_active_isa(Isa isa);
const char* isa_name(Isa isa);
// Parses "generic" | "avx2" | "avx512"; returns false on anything else.
bool parse_isa(const char* name, Isa* out);

}  // namespace ternion
