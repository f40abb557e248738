//! Fuzz target `inflate` (stub: the owning helper replaces this body).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = data;
});
