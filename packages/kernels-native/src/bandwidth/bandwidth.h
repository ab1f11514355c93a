// Read-bandwidth probe: streams a buffer and folds it into a checksum so no load can be elided. The
// benchmarks divide weight bytes by this machine's measured read bandwidth to print "% of bandwidth".
#pragma once

#include <cstddef>
#include <cstdint>

namespace ternion {

// XOR-fold of bytes [0, n) read as 64-bit words (n must be a multiple of 64).
uint64_t read_fold_generic(const uint8_t* p, size_t n);
uint64_t read_fold_avx2(const uint8_t* p, size_t n);
uint64_t read_fold_avx512(const uint8_t* p, size_t n);

}  // namespace ternion
