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

// The variant of a kernel for the ISA level active now. Call it when the work runs (not when it is
// prepared), so a recorded Program follows later setIsa() calls.
template <typename Fn>
Fn pick_for_isa(Fn generic, Fn avx2, Fn avx512) {
  switch (active_isa()) {
    case Isa::kAvx512:
      return avx512;
    case Isa::kAvx2:
      return avx2;
    default:
      return generic;
  }
}

}  // namespace ternion

// TERNION_PICK(matmul_f16) picks among matmul_f16_generic / _avx2 / _avx512. The SIMD variants are only
// compiled on x86-64, so elsewhere (arm64) it names the generic one alone and links without them.
#ifdef TERNION_X86
#define TERNION_PICK(name) ::ternion::pick_for_isa(name##_generic, name##_avx2, name##_avx512)
#else
#define TERNION_PICK(name) (name##_generic)
#endif
