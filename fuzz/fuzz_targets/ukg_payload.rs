//! UKG Pro pages as they arrive: any bytes are parsed as the two endpoints' rows, then joined and
//! mapped. Garbage is an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_ukg_pro::mapping::{MapOptions, map_all};
use roster_ukg_pro::models::{EmploymentRow, PersonRow};

fuzz_target!(|data: &[u8]| {
    // A NUL byte (which JSON text never holds) separates the two endpoints' bodies.
    let (persons, employment) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let persons: Vec<PersonRow> = serde_json::from_slice(persons).unwrap_or_default();
    let employment: Vec<EmploymentRow> = serde_json::from_slice(employment).unwrap_or_default();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 6, 1).unwrap_or_default();
    for level in [1, 2, 4] {
        let _ = map_all(persons.clone(), employment.clone(), MapOptions { today, department_org_level: level });
    }
});
