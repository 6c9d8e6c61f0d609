//! The configuration loader takes any text: it answers a `Config` or a `ConfigError`, never a
//! panic. (Environment variables and secret files it names are looked up for real: they are
//! simply absent here.)
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut file) = tempfile::NamedTempFile::new() else { return };
    if file.write_all(data).is_err() {
        return;
    }
    let _ = roster_host::config::load(file.path());
});
