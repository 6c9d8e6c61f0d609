//! Google Directory `users` pages: any bytes are parsed as a page and every user mapped.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_google_workspace::mapping::map_user;
use roster_google_workspace::models::UsersPage;

fuzz_target!(|data: &[u8]| {
    let Ok(page) = serde_json::from_slice::<UsersPage>(data) else { return };
    for user in page.users.unwrap_or_default() {
        let _ = map_user(&user);
    }
});
