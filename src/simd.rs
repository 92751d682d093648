//! Run-time choice of instruction sets for the few hot loops that gain from them.
//!
//! The crate is built for the baseline x86-64 (SSE2), so a binary runs on any x86-64 CPU.
//! The loops that decide recall latency (the IVF block scan, the exact vector scan, the
//! term-count bitsets of the text search) are compiled a second time with
//! `#[target_feature(enable = "avx2")]` (eight f32 lanes, byte-to-float widening in one
//! instruction) or `popcnt`, and picked at run time when the CPU has the feature. Rust
//! does not contract `a * b + c` into a fused multiply-add unless asked, and the loops keep
//! the same order of operations per lane, so both versions give the same bits: results do
//! not depend on the machine. Hand-written because a dispatch is four lines here, and the
//! `multiversion` crate does not take methods (`self`).
//!
//! Measured on the 2-vCPU EPYC dev VM: see `src/memory/mod.rs`.

/// True if this CPU has AVX2 (the check is cached by the standard library).
#[cfg(target_arch = "x86_64")]
#[inline]
pub fn has_avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
}

/// True if this CPU has the POPCNT instruction.
#[cfg(target_arch = "x86_64")]
#[inline]
pub fn has_popcnt() -> bool {
    std::arch::is_x86_feature_detected!("popcnt")
}
