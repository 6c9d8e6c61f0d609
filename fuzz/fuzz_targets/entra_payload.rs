//! Microsoft Graph `users` pages: any bytes are parsed as a page and every user mapped.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_entra_id::mapping::map_user;
use roster_entra_id::models::UsersPage;

fuzz_target!(|data: &[u8]| {
    let Ok(page) = serde_json::from_slice::<UsersPage>(data) else { return };
    let today = chrono::NaiveDate::from_ymd_opt(2026, 6, 1).unwrap_or_default();
    for user in page.value.unwrap_or_default() {
        let _ = map_user(&user, today);
    }
});
