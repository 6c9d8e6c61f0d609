//! The conformance kit against the UKG Pro sandbox: every fault of the catalogue, over real HTTP.
//!
//! Faults strike person-details, the endpoint whose pages stream into the sink (employment-details
//! is read whole first); the empty first page strikes both. UKG authenticates every request with
//! Basic credentials, so there is no token to expire.

use std::collections::BTreeSet;

use async_trait::async_trait;
use roster_core::sandbox::Org;
use roster_core::testkit::{Fault, FaultySandbox, PAGE_SIZE, Unsupported};
use roster_core::{ConnectContext, Connector, find_connector};
use roster_ukg_pro::sandbox::{Sandbox, Tenant, company_id, employee_id};
use roster_ukg_pro::{Endpoint, ID};
use serde_json::json;

struct Ukg {
    sandbox: Sandbox,
    tenant: Tenant,
    expected: BTreeSet<String>,
}

impl Ukg {
    /// The index of the first person-details row of `page`, and of its employment-details row.
    fn rows_of(&self, page: u32) -> Result<(usize, usize), Unsupported> {
        let person = (page as usize - 1) * PAGE_SIZE;
        let key = |row: &serde_json::Value, id: &str, company: &str| (row[id].clone(), row[company].clone());
        let wanted = self
            .tenant
            .person_details
            .get(person)
            .map(|row| key(row, "employeeId", "companyId"))
            .ok_or_else(|| Unsupported(format!("the tenant has no page {page}")))?;
        let employment = self
            .tenant
            .employment_details
            .iter()
            .position(|row| key(row, "employeeID", "companyID") == wanted)
            .ok_or_else(|| Unsupported("the person has no employment-details row".into()))?;
        Ok((person, employment))
    }
}

#[async_trait]
impl FaultySandbox for Ukg {
    const CONNECTOR: &'static str = ID;

    async fn start(org: &Org) -> Result<Self, String> {
        let tenant = Tenant::from_org(org);
        let expected = org
            .people
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{}/{}", company_id(p.company), employee_id(i)))
            .collect();
        Ok(Self { sandbox: Sandbox::start(tenant.clone()).await?, tenant, expected })
    }

    fn connect(&self, ctx: &ConnectContext) -> Result<Box<dyn Connector>, String> {
        let mut credentials = self.sandbox.credentials();
        credentials["page_size"] = json!(PAGE_SIZE);
        let descriptor = find_connector(ID).map_err(|e| e.to_string())?;
        descriptor.connect(&credentials, ctx).map_err(|e| e.to_string())
    }

    fn expected_source_ids(&self) -> BTreeSet<String> {
        self.expected.clone()
    }

    fn inject(&self, fault: &Fault, page: u32) -> Result<(), Unsupported> {
        if let Some(answers) = fault.answers() {
            for (answer, times) in answers {
                self.sandbox.fault_at_page(Endpoint::PersonDetails, page, answer, times);
            }
            return Ok(());
        }
        match fault {
            Fault::RepeatingPage => self.sandbox.repeat_pages(Endpoint::PersonDetails),
            Fault::EmptyFirstPage => {
                for endpoint in Endpoint::ALL {
                    self.sandbox.empty_first_page(endpoint);
                }
            }
            Fault::TokenExpiresMidListing => {
                return Err(Unsupported(
                    "ukg pro takes Basic credentials on every request: there is no access token to expire".into(),
                ));
            }
            Fault::UnmappableRecord => {
                let (_, employment) = self.rows_of(page)?;
                let patch = json!({ "employeeStatusCode": "Z" });
                self.sandbox.patch_row(Endpoint::EmploymentDetails, employment, &patch).map_err(Unsupported)?;
            }
            Fault::MissingSourceId => {
                let (person, _) = self.rows_of(page)?;
                let patch = json!({ "employeeId": null });
                self.sandbox.patch_row(Endpoint::PersonDetails, person, &patch).map_err(Unsupported)?;
            }
            other => return Err(Unsupported(format!("no way to inject {other}"))),
        }
        Ok(())
    }

    fn faults_served(&self) -> u64 {
        self.sandbox.faults_served()
    }
}

roster_core::conformance_tests!(Ukg);

/// Not a kit case: the guard on the connector's rule that an empty page naming a next page is
/// passed over. A tenant whose every page names a next one, even when empty, ends at the second
/// empty page in a row instead of looping.
#[tokio::test]
async fn empty_pages_that_always_name_a_next_page_end_the_listing() {
    let sandbox = Sandbox::start(Tenant::default()).await.unwrap();
    for endpoint in Endpoint::ALL {
        sandbox.repeat_pages(endpoint);
    }
    // Few pages allowed: without the rule, the listing fails at the bound instead of hanging.
    let http = roster_core::http::HttpOptions { max_pages: 50, ..roster_core::http::HttpOptions::fast() };
    let ctx = ConnectContext { today: roster_core::testkit::today(), http, ..ConnectContext::now() };
    let connector = find_connector(ID).unwrap().connect(&sandbox.credentials(), &ctx).unwrap();
    assert!(roster_core::collect_users(&*connector).await.unwrap().is_empty());
    for endpoint in Endpoint::ALL {
        assert_eq!(sandbox.requests(endpoint), 2, "{endpoint:?}");
    }
}
