//! The conformance kit against the Entra ID sandbox: every fault of the catalogue, over real HTTP.

use std::collections::BTreeSet;

use async_trait::async_trait;
use roster_core::sandbox::Org;
use roster_core::testkit::{Fault, FaultySandbox, PAGE_SIZE, Unsupported};
use roster_core::{ConnectContext, Connector, find_connector};
use roster_entra_id::ID;
use roster_entra_id::sandbox::{Sandbox, Tenant};
use serde_json::json;

struct Entra(Sandbox);

#[async_trait]
impl FaultySandbox for Entra {
    const CONNECTOR: &'static str = ID;

    async fn start(org: &Org) -> Result<Self, String> {
        let sandbox = Sandbox::start(Tenant::from_org(org)).await?;
        sandbox.set_page_size(Some(PAGE_SIZE));
        Ok(Self(sandbox))
    }

    fn connect(&self, ctx: &ConnectContext) -> Result<Box<dyn Connector>, String> {
        let descriptor = find_connector(ID).map_err(|e| e.to_string())?;
        descriptor.connect(&self.0.credentials(), ctx).map_err(|e| e.to_string())
    }

    fn expected_source_ids(&self) -> BTreeSet<String> {
        self.0.tenant().users.iter().map(|u| u.id.clone()).collect()
    }

    fn inject(&self, fault: &Fault, page: u32) -> Result<(), Unsupported> {
        if let Some(answers) = fault.answers() {
            for (answer, times) in answers {
                self.0.fault_at_page(page, answer, times);
            }
            return Ok(());
        }
        // The first user of the page.
        let first = (page as usize - 1) * PAGE_SIZE;
        match fault {
            Fault::RepeatingPage => self.0.repeat_next_link(true),
            Fault::EmptyFirstPage => self.0.empty_first_page(true),
            Fault::TokenExpiresMidListing => self.0.expire_tokens_at_page(page),
            // Graph's accountEnabled is a boolean; anything else is a value nobody mapped.
            Fault::UnmappableRecord => self.0.patch_user(first, json!({ "accountEnabled": "yes" })),
            Fault::MissingSourceId => self.0.patch_user(first, json!({ "id": null })),
            other => return Err(Unsupported(format!("no way to inject {other}"))),
        }
        Ok(())
    }

    fn faults_served(&self) -> u64 {
        self.0.faults_served()
    }
}

roster_core::conformance_tests!(Entra);
