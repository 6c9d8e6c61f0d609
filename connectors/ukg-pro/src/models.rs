//! Rows of UKG's person-details and employment-details, as far as roster reads them.
//!
//! The two endpoints spell the same keys differently (`employeeId` against `employeeID`,
//! `companyId` against `companyID`), and tenants have been seen to differ too, so keys are matched
//! without regard to case. Deserialization is hand-written for that reason and for a second one:
//! every key roster does not map is skipped with [`serde::de::IgnoredAny`], so the PII the rows
//! carry (SSN, national id, birth date, home address) is never parsed into a value, let alone
//! kept. Every field is optional and accepts a string, a number, a boolean or `null`; a blank
//! string reads as absent.

use std::fmt;

use roster_core::CompactString;
use roster_core::compact_str::ToCompactString;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// One row of `/personnel/v1/person-details`: who someone is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonRow {
    /// `personId`: UKG's GUID of the person, shared by their rows in several companies.
    pub person_id: Option<CompactString>,
    /// `employeeId`: UKG's internal key of the employee within a company.
    pub employee_id: Option<CompactString>,
    /// `companyId`: UKG's internal key of the company (legal entity).
    pub company_id: Option<CompactString>,
    /// `firstName`.
    pub first_name: Option<CompactString>,
    /// `lastName`.
    pub last_name: Option<CompactString>,
    /// `preferredName`.
    pub preferred_name: Option<CompactString>,
    /// `emailAddress`: the work address.
    pub email_address: Option<CompactString>,
    /// `emailAddressAlternate`.
    pub email_address_alternate: Option<CompactString>,
}

/// One row of `/personnel/v1/employment-details`: whether and how someone works here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmploymentRow {
    /// `employeeID`: joins with [`PersonRow::employee_id`].
    pub employee_id: Option<CompactString>,
    /// `companyID`: joins with [`PersonRow::company_id`].
    pub company_id: Option<CompactString>,
    /// `employeeNumber`: the number people and other systems know.
    pub employee_number: Option<CompactString>,
    /// `employeeStatusCode`: one letter (A, L, S, O, R, T; others in some tenants).
    pub employee_status_code: Option<CompactString>,
    /// `primaryJobCode`: the stable key of the job.
    pub primary_job_code: Option<CompactString>,
    /// `jobTitle`.
    pub job_title: Option<CompactString>,
    /// `jobDescription`: the job's name, used when `jobTitle` is empty.
    pub job_description: Option<CompactString>,
    /// `supervisorID`: the manager's `employeeID`.
    pub supervisor_id: Option<CompactString>,
    /// `orgLevel1Code` to `orgLevel4Code`.
    pub org_level_codes: [Option<CompactString>; 4],
    /// `originalHireDate`.
    pub original_hire_date: Option<CompactString>,
    /// `lastHireDate`: the most recent (re)hire; in the future for a pre-hire.
    pub last_hire_date: Option<CompactString>,
    /// `dateOfTermination`: past for a leaver, future for a pending termination.
    pub date_of_termination: Option<CompactString>,
}

/// The lowercased keys of [`PersonRow`], in field order.
static PERSON_KEYS: Keys<8> = Keys::new([
    "personid",
    "employeeid",
    "companyid",
    "firstname",
    "lastname",
    "preferredname",
    "emailaddress",
    "emailaddressalternate",
]);

/// The lowercased keys of [`EmploymentRow`], in field order.
static EMPLOYMENT_KEYS: Keys<15> = Keys::new([
    "employeeid",
    "companyid",
    "employeenumber",
    "employeestatuscode",
    "primaryjobcode",
    "jobtitle",
    "jobdescription",
    "supervisorid",
    "orglevel1code",
    "orglevel2code",
    "orglevel3code",
    "orglevel4code",
    "originalhiredate",
    "lasthiredate",
    "dateoftermination",
]);

/// The lowercased keys a row type reads, in field order, and which of them have each length.
struct Keys<const N: usize> {
    names: [&'static str; N],
    /// Bit `i` of `by_length[n]` is set when key `i` is `n` bytes long. A row's key is compared
    /// only with the keys of its length: compared with every key, as most of a row's keys are not
    /// read (an employment row has 24), finding keys was a tenth of the listing's CPU.
    by_length: [u32; 32],
}

impl<const N: usize> Keys<N> {
    /// Fails to compile for more than 32 keys or a key of 32 bytes or more.
    const fn new(names: [&'static str; N]) -> Self {
        let mut by_length = [0_u32; 32];
        let mut i = 0;
        while i < N {
            by_length[names[i].len()] |= 1 << i;
            i += 1;
        }
        Self { names, by_length }
    }

    /// The index of `key` among the keys, without regard to case.
    fn find(&self, key: &str) -> Option<usize> {
        let mut candidates = *self.by_length.get(key.len())?;
        while candidates != 0 {
            let i = candidates.trailing_zeros() as usize;
            if self.names[i].eq_ignore_ascii_case(key) {
                return Some(i);
            }
            candidates &= candidates - 1;
        }
        None
    }
}

impl<'de> Deserialize<'de> for PersonRow {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let [person_id, employee_id, company_id, first_name, last_name, preferred_name, email, alternate] =
            deserializer.deserialize_map(RowVisitor { keys: &PERSON_KEYS, what: "a person-details row" })?;
        Ok(Self {
            person_id,
            employee_id,
            company_id,
            first_name,
            last_name,
            preferred_name,
            email_address: email,
            email_address_alternate: alternate,
        })
    }
}

impl<'de> Deserialize<'de> for EmploymentRow {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let [
            employee_id,
            company_id,
            employee_number,
            employee_status_code,
            primary_job_code,
            job_title,
            job_description,
            supervisor_id,
            org1,
            org2,
            org3,
            org4,
            original_hire_date,
            last_hire_date,
            date_of_termination,
        ] = deserializer.deserialize_map(RowVisitor { keys: &EMPLOYMENT_KEYS, what: "an employment-details row" })?;
        Ok(Self {
            employee_id,
            company_id,
            employee_number,
            employee_status_code,
            primary_job_code,
            job_title,
            job_description,
            supervisor_id,
            org_level_codes: [org1, org2, org3, org4],
            original_hire_date,
            last_hire_date,
            date_of_termination,
        })
    }
}

/// Reads a JSON object into one value per known key; every other key's value is skipped unread.
struct RowVisitor<const N: usize> {
    keys: &'static Keys<N>,
    what: &'static str,
}

impl<'de, const N: usize> Visitor<'de> for RowVisitor<N> {
    type Value = [Option<CompactString>; N];

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (a JSON object)", self.what)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut values: [Option<CompactString>; N] = std::array::from_fn(|_| None);
        while let Some(index) = map.next_key_seed(KeySeed(self.keys))? {
            match index {
                // The same key twice in other casings: a null or blank one never erases a value.
                Some(i) => {
                    if let Some(value) = map.next_value_seed(Lenient)? {
                        values[i] = Some(value);
                    }
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(values)
    }
}

/// Finds a key among the lowercased `keys` without regard to case, without allocating.
struct KeySeed<const N: usize>(&'static Keys<N>);

impl<'de, const N: usize> DeserializeSeed<'de> for KeySeed<N> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<const N: usize> Visitor<'_> for KeySeed<N> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.find(key))
    }
}

/// An optional text value that also takes numbers and booleans (tenants differ), and reads
/// `null`, blanks, objects and arrays as absent. Surrounding white space is trimmed.
struct Lenient;

impl<'de> DeserializeSeed<'de> for Lenient {
    type Value = Option<CompactString>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Lenient {
    type Value = Option<CompactString>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, a number, a boolean or null")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let v = roster_core::model::trim(v);
        Ok((!v.is_empty()).then(|| CompactString::from(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.to_compact_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_compact_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(v.to_compact_string()))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v.to_compact_string()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_in_any_case_and_the_rest_is_skipped() {
        let row: EmploymentRow = serde_json::from_str(
            r#"{"EMPLOYEEID":"K1","companyId":"C1","employeeNumber":123,"employeeStatusCode":" A ",
                "orgLevel2Code":"OPS","jobTitle":"","ssn":"900-00-0001","address":{"line1":"x"},"extra":[1,2]}"#,
        )
        .unwrap();
        assert_eq!(row.employee_id.as_deref(), Some("K1"));
        assert_eq!(row.company_id.as_deref(), Some("C1"));
        assert_eq!(row.employee_number.as_deref(), Some("123"));
        assert_eq!(row.employee_status_code.as_deref(), Some("A"));
        assert_eq!(row.org_level_codes, [None, Some("OPS".into()), None, None]);
        assert_eq!(row.job_title, None, "a blank reads as absent");
    }

    #[test]
    fn every_key_is_found_in_any_case_and_only_itself() {
        fn check<const N: usize>(keys: &Keys<N>) {
            for (i, name) in keys.names.iter().enumerate() {
                assert_eq!(keys.find(name), Some(i), "{name}");
                assert_eq!(keys.find(&name.to_ascii_uppercase()), Some(i), "{name}");
                // Another key of the same length.
                let other = format!("{}x", &name[..name.len() - 1]);
                assert_eq!(keys.find(&other), None, "{other}");
            }
            assert_eq!(keys.find(""), None);
            assert_eq!(keys.find(&"k".repeat(40)), None);
        }
        check(&PERSON_KEYS);
        check(&EMPLOYMENT_KEYS);
    }

    #[test]
    fn a_null_duplicate_does_not_erase_a_value() {
        let row: PersonRow =
            serde_json::from_str(r#"{"employeeId":"K1","employeeID":null,"firstName":{"a":1}}"#).unwrap();
        assert_eq!(row.employee_id.as_deref(), Some("K1"));
        assert_eq!(row.first_name, None);
    }

    #[test]
    fn a_row_that_is_not_an_object_fails() {
        assert!(serde_json::from_str::<Vec<PersonRow>>(r#"["x"]"#).is_err());
        assert!(serde_json::from_str::<Vec<PersonRow>>(r#"{"a":1}"#).is_err());
    }
}
