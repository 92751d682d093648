//! Run-time choice of instruction sets for the few hot loops that gain from them.
//!
//! The crate is built for the baseline x86-64 (SSE2), so a binary runs on any x86-64 CPU.
//! The loops that decide recall latency (the text search's term-count bitsets, the IVF
//! block scan, the exact vector scan) are compiled a second time with AVX2 and POPCNT
//! enabled (eight f32 lanes, byte-to-float widening in one instruction, one-instruction
//! popcounts) by [`multiversion!`], and that build runs when the CPU has both. Rust does
//! not contract `a * b + c` into a fused multiply-add unless asked, and the loops keep the
//! same order of operations per lane, so both builds give the same bits: results do not
//! depend on the machine. Property tests beside each loop check it
//! (`prop_*_builds_agree`), and `QUORUM_SIMD=baseline` forces the baseline build for a
//! whole process (CI runs the memory tests once that way).
//!
//! Hand-written because the dispatch is a dozen lines, and the `multiversion` crate does
//! not take methods or let a test pick the build.

use std::sync::OnceLock;

/// An instruction set the hot loops can run with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Isa {
    /// The x86-64 baseline (SSE2), or the only build on other architectures.
    Baseline,
    /// AVX2 and POPCNT.
    Avx2,
}

/// True if this CPU can run the [`Isa::Avx2`] build (the check is cached by std).
pub(crate) fn supported() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("popcnt")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The build the hot loops use in this process: AVX2 where [`supported`], unless the
/// environment variable `QUORUM_SIMD` is `baseline`. Read once.
pub(crate) fn active() -> Isa {
    static ACTIVE: OnceLock<Isa> = OnceLock::new();
    *ACTIVE.get_or_init(|| {
        let forced = std::env::var("QUORUM_SIMD").is_ok_and(|v| v.eq_ignore_ascii_case("baseline"));
        if !forced && supported() { Isa::Avx2 } else { Isa::Baseline }
    })
}

/// Defines `fn $name(isa: Isa, args..) -> Ret` that runs `$imp(args..)` compiled for `isa`
/// (the AVX2 build only where [`supported`]; the baseline build otherwise). `$imp` must
/// be `#[inline(always)]`, and so must every step it calls that should be built for AVX2:
/// code left out of line is compiled once, for the baseline. Callers pass [`active`];
/// tests pass each `Isa` and compare.
macro_rules! multiversion {
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty = $imp:path;
    ) => {
        $(#[$meta])*
        #[allow(unsafe_code)]
        $vis fn $name(isa: $crate::simd::Isa, $($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            if isa == $crate::simd::Isa::Avx2 && $crate::simd::supported() {
                #[target_feature(enable = "avx2,popcnt")]
                $(#[$meta])*
                fn avx2($($arg: $ty),*) -> $ret {
                    $imp($($arg),*)
                }
                // SAFETY: the CPU has AVX2 and POPCNT (`supported`, checked just above).
                return unsafe { avx2($($arg),*) };
            }
            let _ = isa;
            $imp($($arg),*)
        }
    };
}

pub(crate) use multiversion;
