//! The conformance kit against the Google Workspace sandbox: every fault of the catalogue, over
//! real HTTP.

use std::collections::BTreeSet;

use async_trait::async_trait;
use roster_core::sandbox::Org;
use roster_core::testkit::{Fault, FaultySandbox, PAGE_SIZE, Unsupported};
use roster_core::{ConnectContext, Connector, find_connector};
use roster_google_workspace::ID;
use roster_google_workspace::sandbox::{Directory, Sandbox};
use serde_json::json;

struct Google(Sandbox);

#[async_trait]
impl FaultySandbox for Google {
    const CONNECTOR: &'static str = ID;

    async fn start(org: &Org) -> Result<Self, String> {
        let sandbox = Sandbox::start(Directory::from_org(org)).await?;
        sandbox.set_page_size(Some(PAGE_SIZE));
        Ok(Self(sandbox))
    }

    fn connect(&self, ctx: &ConnectContext) -> Result<Box<dyn Connector>, String> {
        let descriptor = find_connector(ID).map_err(|e| e.to_string())?;
        descriptor.connect(&self.0.credentials(), ctx).map_err(|e| e.to_string())
    }

    fn expected_source_ids(&self) -> BTreeSet<String> {
        self.0.directory().users.iter().filter_map(|u| u["id"].as_str().map(str::to_owned)).collect()
    }

    fn inject(&self, fault: &Fault, page: u32) -> Result<(), Unsupported> {
        if let Some(answers) = fault.answers() {
            for (answer, times) in answers {
                self.0.fault_at_page(page, answer, times);
            }
            return Ok(());
        }
        // The first user of the page (the listing is by customer: every user, in order).
        let first = (page as usize - 1) * PAGE_SIZE;
        match fault {
            Fault::RepeatingPage => self.0.repeat_page_token(true),
            Fault::EmptyFirstPage => self.0.empty_first_page(true),
            Fault::TokenExpiresMidListing => self.0.expire_tokens_at_page(page),
            // Not archived (which would decide the status on its own), and a suspension flag that
            // is not a boolean.
            Fault::UnmappableRecord => self.0.patch_user(first, json!({ "archived": null, "suspended": "yes" })),
            Fault::MissingSourceId => self.0.patch_user(first, json!({ "id": null })),
            other => return Err(Unsupported(format!("no way to inject {other}"))),
        }
        Ok(())
    }

    fn faults_served(&self) -> u64 {
        self.0.faults_served()
    }
}

roster_core::conformance_tests!(Google);
