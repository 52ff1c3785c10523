#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hss_image_sync_fuzz::check_emulator_verify(data));
