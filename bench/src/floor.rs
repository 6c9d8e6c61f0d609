//! The floor: the UKG Pro pages a sync fetches, fetched the same way (same endpoints, page size,
//! headers and concurrency) with a plain `reqwest` client, bodies discarded unparsed. What a sync
//! takes beyond this is roster's own work: parsing, joining, mapping, storing, resolving.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use reqwest::header::{ACCEPT, LINK};
use roster_ukg_pro::Endpoint;
use roster_ukg_pro::credentials::MAX_PAGE_SIZE;
use roster_ukg_pro::sandbox::{CUSTOMER_API_KEY, PASSWORD, USERNAME};

use crate::mem;
use crate::protocol::Measured;

/// What the fetching of one endpoint saw.
#[derive(Debug, Default, Clone, Copy)]
struct Fetched {
    requests: u64,
    bytes: u64,
}

/// Fetches every page of both endpoints from the sandbox at `base_url`, in the order the
/// connector does.
pub(crate) async fn run(base_url: &str, people: usize) -> Result<Measured> {
    let client = reqwest::Client::builder().build().context("cannot build the HTTP client")?;
    let started = Instant::now();
    // The connector reads employment-details to the end, then person-details.
    let mut total = Fetched::default();
    for endpoint in [Endpoint::EmploymentDetails, Endpoint::PersonDetails] {
        let fetched = fetch_all(&client, base_url, endpoint).await?;
        total.requests += fetched.requests;
        total.bytes += fetched.bytes;
    }
    Ok(Measured {
        wall_secs: started.elapsed().as_secs_f64(),
        units: people as u64,
        peak_rss: mem::peak_rss(),
        requests: Some(total.requests),
        bytes: Some(total.bytes),
        ..Measured::default()
    })
}

async fn fetch_all(client: &reqwest::Client, base_url: &str, endpoint: Endpoint) -> Result<Fetched> {
    let url = format!("{base_url}{}", endpoint.path());
    let mut fetched = Fetched::default();
    for page in 1.. {
        let (bytes, next) = fetch_page(client, &url, page).await?;
        fetched.requests += 1;
        fetched.bytes += bytes;
        if !next {
            break;
        }
    }
    Ok(fetched)
}

/// One page: its size in bytes, and whether its `Link` header names a next page.
async fn fetch_page(client: &reqwest::Client, url: &str, page: u32) -> Result<(u64, bool)> {
    let response = client
        .get(url)
        .query(&[("page", page), ("per_Page", MAX_PAGE_SIZE)])
        .basic_auth(USERNAME, Some(PASSWORD))
        .header("US-Customer-Api-Key", CUSTOMER_API_KEY)
        .header(ACCEPT, "application/json")
        .send()
        .await
        .with_context(|| format!("GET {url} page {page}"))?;
    if !response.status().is_success() {
        bail!("GET {url} page {page}: HTTP {}", response.status());
    }
    let next =
        response.headers().get_all(LINK).iter().filter_map(|v| v.to_str().ok()).any(|v| v.contains("rel=\"next\""));
    let body = response.bytes().await.with_context(|| format!("GET {url} page {page}: body"))?;
    Ok((body.len() as u64, next))
}
