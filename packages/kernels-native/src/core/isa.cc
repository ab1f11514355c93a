#include "core/isa.h"

#include <cstdlib>
#include <cstring>

#if defined(TERNION_X86) && (defined(__x86_64__) || defined(_M_X64))
#if defined(_MSC_VER)
#include <immintrin.h>
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#define TERNION_HAVE_CPUID 1
#endif

namespace ternion {
namespace {

#ifdef TERNION_HAVE_CPUID
void cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {
#if defined(_MSC_VER)
  int regs[4];
  __cpuidex(regs, static_cast<int>(leaf), static_cast<int>(sub));
  for (int i = 0; i < 4; i++) r[i] = static_cast<unsigned>(regs[i]);
#else
  __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
#endif
}

unsigned long long xgetbv0() {
#if defined(_MSC_VER)
  return _xgetbv(0);
#else
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
#endif
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
#ifdef TERNION_HAVE_CPUID
  f.x86 = true;
  unsigned r[4];
  cpuid(0, 0, r);
  const unsigned max_leaf = r[0];
  cpuid(1, 0, r);
  const unsigned ecx1 = r[2];
  f.sse42 = ecx1 & (1u << 20);
  f.fma = ecx1 & (1u << 12);
  f.f16c = ecx1 & (1u << 29);
  f.avx = ecx1 & (1u << 28);
  const bool osxsave = ecx1 & (1u << 27);
  if (osxsave) {
    const unsigned long long xcr0 = xgetbv0();
    f.os_ymm = (xcr0 & 0x6) == 0x6;        // SSE + AVX state
    f.os_zmm = (xcr0 & 0xe6) == 0xe6;      // + opmask, ZMM_Hi256, Hi16_ZMM
  }
  if (max_leaf >= 7) {
    cpuid(7, 0, r);
    const unsigned ebx7 = r[1], ecx7 = r[2];
    f.avx2 = ebx7 & (1u << 5);
    f.bmi2 = ebx7 & (1u << 8);
    f.avx512f = ebx7 & (1u << 16);
    f.avx512dq = ebx7 & (1u << 17);
    f.avx512bw = ebx7 & (1u << 30);
    f.avx512vl = ebx7 & (1u << 31);
    f.avx512vbmi = ecx7 & (1u << 1);
    f.avx512vnni = ecx7 & (1u << 11);
    cpuid(7, 1, r);
    f.avxvnni = r[0] & (1u << 4);
  }
#endif
  return f;
}

Isa detect_best(const CpuFeatures& f) {
  if (!f.x86) return Isa::kGeneric;
  const bool avx2 = f.avx && f.avx2 && f.fma && f.f16c && f.bmi2 && f.os_ymm;
  if (!avx2) return Isa::kGeneric;
  const bool avx512 =
      f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512vnni && f.avx512vbmi && f.os_zmm;
  return avx512 ? Isa::kAvx512 : Isa::kAvx2;
}

struct State {
  CpuFeatures features = detect();
  Isa best = detect_best(features);
  Isa active = initial_active();

  Isa initial_active() const {
    const char* env = std::getenv("TERNION_ISA");
    Isa wanted;
    if (env != nullptr && parse_isa(env, &wanted) && wanted < best) return wanted;
    return best;
  }
};

State& state() {
  static State s;
  return s;
}

}  // namespace

const CpuFeatures& cpu_features() { return state().features; }
Isa best_isa() { return state().best; }
Isa active_isa() { return state().active; }

bool set_active_isa(Isa isa) {
  if (isa > state().best) return false;
  state().active = isa;
  return true;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kGeneric:
      return "generic";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
  }
  return "unknown";
}

bool parse_isa(const char* name, Isa* out) {
  if (std::strcmp(name, "generic") == 0) *out = Isa::kGeneric;
  else if (std::strcmp(name, "avx2") == 0) *out = Isa::kAvx2;
  else if (std::strcmp(name, "avx512") == 0) *out = Isa::kAvx512;
  else return false;
  return true;
}

}  // namespace ternion
